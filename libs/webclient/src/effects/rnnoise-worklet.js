// The AudioWorklet processor 'rnnoise': RNNoise (@jitsi/rnnoise-wasm, its synchronous
// build, whose WebAssembly is inlined: a worklet can fetch nothing) on 480-sample frames
// (10 ms at 48 kHz). The worklet hands 128 samples at a time, so input gathers into a
// frame and processed frames queue for output behind 10 ms of silence, enough that the
// queue never runs dry. Bundled by build.mjs into /demo/rnnoise-worklet.js; not for a page.
//
// Messages on the node's port: {enabled: boolean}  false passes the input through as it is.

import createRNNWasmModuleSync from '@jitsi/rnnoise-wasm/dist/rnnoise-sync.js';

const FRAME = 480;
// RNNoise works on samples at the scale of 16-bit PCM.
const PCM_SCALE = 32768;
const QUEUE = 4096;

class RnnoiseProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.module = createRNNWasmModuleSync();
    this.state = this.module._rnnoise_create();
    this.frame = this.module._malloc(FRAME * Float32Array.BYTES_PER_ELEMENT);
    this.gathered = new Float32Array(FRAME);
    this.gatheredLength = 0;
    this.queue = new Float32Array(QUEUE);
    this.enabled = true;
    this.closed = false;
    this.reset();
    this.port.onmessage = ({ data }) => {
      if (data && typeof data.enabled === 'boolean' && data.enabled !== this.enabled) {
        this.enabled = data.enabled;
        this.reset();
      }
      if (data && data.close) this.close();
    };
  }

  // An empty frame and an output queue primed with one frame of silence.
  reset() {
    this.gatheredLength = 0;
    this.queue.fill(0);
    this.read = 0;
    this.write = FRAME;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.module._rnnoise_destroy(this.state);
    this.module._free(this.frame);
  }

  process(inputs, outputs) {
    const output = outputs[0][0];
    const input = inputs[0] && inputs[0][0];
    if (this.closed) return false;
    if (!input) {
      output.fill(0);
      return true;
    }
    if (!this.enabled) {
      output.set(input);
      return true;
    }
    let offset = 0;
    while (offset < input.length) {
      const take = Math.min(FRAME - this.gatheredLength, input.length - offset);
      this.gathered.set(input.subarray(offset, offset + take), this.gatheredLength);
      this.gatheredLength += take;
      offset += take;
      if (this.gatheredLength === FRAME) this.denoise();
    }
    for (let i = 0; i < output.length; i += 1) {
      output[i] = this.read < this.write ? this.queue[this.read % QUEUE] : 0;
      if (this.read < this.write) this.read += 1;
    }
    return true;
  }

  // One gathered frame through RNNoise, onto the output queue.
  denoise() {
    // The heap may be replaced when the module's memory grows: look it up each time.
    const heap = this.module.HEAPF32;
    const at = this.frame / Float32Array.BYTES_PER_ELEMENT;
    for (let i = 0; i < FRAME; i += 1) heap[at + i] = this.gathered[i] * PCM_SCALE;
    this.module._rnnoise_process_frame(this.state, this.frame, this.frame);
    for (let i = 0; i < FRAME; i += 1) {
      this.queue[this.write % QUEUE] = Math.max(-1, Math.min(1, heap[at + i] / PCM_SCALE));
      this.write += 1;
    }
    this.gatheredLength = 0;
  }
}

registerProcessor('rnnoise', RnnoiseProcessor);
