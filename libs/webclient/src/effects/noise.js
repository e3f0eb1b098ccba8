// @ts-check
// Noise suppression of a microphone track with RNNoise (WebAssembly) in an AudioWorklet
// at 48 kHz: the microphone -> the 'rnnoise' worklet (/demo/rnnoise-worklet.js, from the
// gateway) -> a MediaStreamAudioDestinationNode, whose track is what is sent. The output
// track stays the same whatever the mode, so a mode change needs no renegotiation.
//
// Modes: 'rnnoise'  RNNoise on the microphone
//        'browser'  RNNoise bypassed: the browser's own noise suppression
//        'off'      RNNoise bypassed, and the browser's own turned off
// The browser's own is switched with applyConstraints({noiseSuppression}) where the browser
// changes it on a live track; Chromium keeps what the track was captured with (the
// suppressor's `browserSuppression` says what the track has). RNNoise works best on a
// capture without it: the SDK captures so when it captures the microphone itself.
// Without WebAssembly or AudioWorklet (or when the worklet cannot start) the suppressor
// falls back to the browser's own: `fallback` then says why, and the input track itself
// is what is sent.

/** @typedef {'rnnoise' | 'browser' | 'off'} NoiseMode */

export const NOISE_MODES = Object.freeze(['rnnoise', 'browser', 'off']);
export const RNNOISE_SAMPLE_RATE = 48000;
export const RNNOISE_WORKLET = 'rnnoise-worklet.js';

/**
 * What `noiseSuppression` asks for: true is 'rnnoise', false 'off'; undefined or null: nothing.
 * @param {unknown} value @returns {NoiseMode | null}
 */
export function noiseMode(value) {
  if (value === undefined || value === null) return null;
  if (value === true) return 'rnnoise';
  if (value === false) return 'off';
  if (typeof value === 'string' && NOISE_MODES.includes(value)) return /** @type {NoiseMode} */ (value);
  throw new TypeError(`noiseSuppression must be ${NOISE_MODES.join(', ')}, true or false (not ${String(value)})`);
}

// Why this browser cannot run RNNoise here, or null when it can.
/** @returns {string | null} */
export function rnnoiseUnsupported() {
  if (typeof WebAssembly !== 'object') return 'this browser has no WebAssembly';
  if (typeof AudioContext === 'undefined' || typeof AudioWorkletNode === 'undefined') {
    return 'this browser has no AudioWorklet';
  }
  return null;
}

export class NoiseSuppressor {
  /**
   * @param {MediaStreamTrack} input  the microphone as the page captured it
   * @param {{assetsUrl: string}} options  where rnnoise-worklet.js is served (the SDK's folder)
   */
  constructor(input, { assetsUrl }) {
    this.input = input;
    this.assetsUrl = assetsUrl;
    /** @type {MediaStreamTrack} what to send */
    this.track = input;
    /** @type {NoiseMode} */
    this.mode = 'browser';
    /** @type {string | null} why RNNoise is not running, when it fell back to the browser's own */
    this.fallback = null;
    /** @type {AudioContext | null} */
    this._context = null;
    /** @type {AudioWorkletNode | null} */
    this._node = null;
    /** @type {MediaStreamAudioSourceNode | null} */
    this._source = null;
  }

  /** @param {NoiseMode} mode */
  async start(mode) {
    const unsupported = rnnoiseUnsupported();
    if (unsupported) return this._fallBack(mode, unsupported);
    try {
      const context = new AudioContext({ sampleRate: RNNOISE_SAMPLE_RATE, latencyHint: 'interactive' });
      this._context = context;
      await context.audioWorklet.addModule(new URL(RNNOISE_WORKLET, this.assetsUrl).href);
      const node = new AudioWorkletNode(context, 'rnnoise', {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        channelCount: 1,
        channelCountMode: 'explicit',
      });
      const destination = context.createMediaStreamDestination();
      destination.channelCount = 1;
      node.connect(destination);
      this._node = node;
      this.track = destination.stream.getAudioTracks()[0];
      await this.setMode(mode);
      await context.resume();
    } catch (error) {
      this._teardown();
      this.track = this.input;
      return this._fallBack(mode, `RNNoise could not start: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** @param {NoiseMode} mode */
  async setMode(mode) {
    if (!this._node) return this._fallBack(mode, this.fallback ?? 'RNNoise is not running');
    this._connect(this.input);
    this._node.port.postMessage({ enabled: mode === 'rnnoise' });
    this.mode = mode;
    await this._browserSuppression(mode === 'browser');
  }

  // Whether the microphone track has the browser's own noise suppression (as it says).
  get browserSuppression() {
    return this.input.getSettings().noiseSuppression ?? null;
  }

  // Another microphone (a device switch): the output track stays.
  /** @param {MediaStreamTrack} track */
  async setInput(track) {
    const old = this.input;
    this.input = track;
    if (this._node) await this.setMode(this.mode);
    else this.track = track;
    if (old !== track) old.stop();
  }

  // Stops what this made (the clean capture, the audio graph, the output track).
  close() {
    this._teardown();
    if (this.track !== this.input) this.track.stop();
  }

  // --- internals ---

  /** @param {NoiseMode} mode @param {string} reason */
  async _fallBack(mode, reason) {
    this.fallback = reason;
    this.mode = mode === 'off' ? 'off' : 'browser';
    await this._browserSuppression(this.mode !== 'off');
  }

  // Browsers that change audio processing on a live track do it here; others keep theirs.
  /** @param {boolean} on */
  async _browserSuppression(on) {
    if (this.input.getSettings().noiseSuppression === on) return;
    try {
      await this.input.applyConstraints({ ...this.input.getConstraints(), noiseSuppression: on });
    } catch {
      // the track keeps the suppression it was captured with
    }
  }

  /** @param {MediaStreamTrack} track */
  _connect(track) {
    const context = /** @type {AudioContext} */ (this._context);
    if (this._source?.mediaStream.getAudioTracks()[0] === track) return;
    this._source?.disconnect();
    this._source = context.createMediaStreamSource(new MediaStream([track]));
    this._source.connect(/** @type {AudioWorkletNode} */ (this._node));
  }

  _teardown() {
    this._source?.disconnect();
    this._source = null;
    this._node?.port.postMessage({ close: true });
    this._node?.disconnect();
    this._node = null;
    this._context?.close().catch(() => {});
    this._context = null;
  }
}
