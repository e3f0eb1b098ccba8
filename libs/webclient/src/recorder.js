// @ts-check
// Records a MediaStream in the browser with MediaRecorder and uploads it, as it goes, over
// the recording socket (/recording/socket.io): `create-file`, then `stream` chunks, numbered
// and acknowledged (a chunk the server did not acknowledge is sent again; the server keeps
// it once), `stop-writing`, and `process-recording`, whose progress and result the server
// pushes. Payloads: docs/recording.md. No DOM here: a page shows what the events say.

import { io } from 'socket.io-client';

const ACK_TIMEOUT_MS = 10000;
// The server takes at most 512 KiB in one `stream`; pieces stay well under it.
const MAX_PIECE_BYTES = 256 * 1024;

const VIDEO_TYPES = ['video/webm;codecs=vp8,opus', 'video/webm;codecs=vp9,opus', 'video/webm', 'video/mp4'];
const AUDIO_TYPES = ['audio/webm;codecs=opus', 'audio/webm', 'audio/mp4'];

// The error a recorder's call rejects with: the server's `{error, code, field}`, or a timeout.
export class RecordingError extends Error {
  /**
   * @param {string} event
   * @param {string} message
   * @param {{code?: string, field?: string}} [details]
   */
  constructor(event, message, { code = '', field = '' } = {}) {
    super(`${event}: ${message}`);
    this.name = 'RecordingError';
    this.event = event;
    this.reason = message;
    this.code = code;
    this.field = field;
  }

  // Worth sending again: the server (or the way to it) was away, not a refusal.
  get passing() {
    return this.code === 'unavailable' || this.code === 'timeout' || this.code === 'internal';
  }
}

/**
 * The first MIME type MediaRecorder supports for a stream with (or without) video.
 * @param {{isTypeSupported?: (type: string) => boolean} | undefined} recorderClass
 * @param {boolean} withVideo
 */
export function chooseMimeType(recorderClass, withVideo) {
  const candidates = withVideo ? VIDEO_TYPES : AUDIO_TYPES;
  const supported = recorderClass?.isTypeSupported;
  if (typeof supported !== 'function') return candidates[0];
  return candidates.find((type) => supported.call(recorderClass, type)) ?? '';
}

/**
 * Bytes cut into pieces of at most `size`.
 * @param {ArrayBuffer} buffer
 * @param {number} size
 * @returns {ArrayBuffer[]}
 */
export function piecesOf(buffer, size) {
  const pieces = [];
  for (let at = 0; at < buffer.byteLength; at += size) pieces.push(buffer.slice(at, at + size));
  return pieces;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Events dispatched (each a CustomEvent whose `detail` is given):
//   'state'    {state}     'idle' | 'connecting' | 'recording' | 'stopping' | 'stopped' | 'processing'
//                          | 'ready' | 'failed' | 'closed'
//   'chunk'    {trackId, seq, bytes, duplicate}   a piece the server acknowledged
//   'stopped'  {trackId, chunks, bytes, complete, missing}   the file is closed
//   'progress' {percent}   processing, 0..99
//   'ready'    {downloadUrl, size, duration, width, height}  the MP4 plays at downloadUrl
//   'failed'   {reason}    processing failed
//   'error'    {message, code}  an upload that cannot go on (a refusal, or the server away too long)
export class Recorder extends EventTarget {
  /**
   * @param {{url?: string, apiKey?: string, token?: string, socketPath?: string,
   *   recordingId: string, roomId?: string, userName?: string, trackId?: string, mimeType?: string,
   *   timeslice?: number, maxPieceBytes?: number, window?: number, retries?: number, retryDelayMs?: number,
   *   ackTimeoutMs?: number, socket?: any, MediaRecorder?: any}} options
   */
  constructor({
    url,
    apiKey = '',
    token = '',
    socketPath = '/recording/socket.io',
    recordingId,
    roomId = '',
    userName = '',
    trackId = 'camera',
    mimeType = '',
    timeslice = 1000,
    maxPieceBytes = MAX_PIECE_BYTES,
    window = 4,
    retries = 6,
    retryDelayMs = 500,
    ackTimeoutMs = ACK_TIMEOUT_MS,
    socket = null,
    MediaRecorder = globalThis.MediaRecorder,
  }) {
    super();
    if (!recordingId) throw new TypeError('recordingId is required');
    this.url = url;
    this.apiKey = apiKey;
    this.token = token;
    this.socketPath = socketPath;
    this.recordingId = recordingId;
    this.roomId = roomId;
    this.userName = userName;
    this.baseTrackId = trackId;
    this.mimeType = mimeType;
    this.timeslice = timeslice;
    this.maxPieceBytes = maxPieceBytes;
    this.window = Math.max(1, window);
    this.retries = retries;
    this.retryDelayMs = retryDelayMs;
    this.ackTimeoutMs = ackTimeoutMs;
    this.socket = socket;
    this.MediaRecorderClass = MediaRecorder;
    this.state = 'idle';
    this.segments = 0;
    this.trackId = '';
    this.mediaRecorder = null;
    this.nextSeq = 0;
    this.queue = []; // [seq, piece] waiting to be sent
    this.inFlight = new Set(); // promises of pieces being sent
    this.pending = Promise.resolve(); // blobs turned into pieces, in order
    this.failure = null;
    this.bytes = 0;
    this._listening = false;
  }

  _setState(state) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state } }));
  }

  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  // --- the socket ---

  // Opens the recording socket with the key and token in `auth`, as a browser must.
  async connect() {
    if (!this.socket) {
      const auth = Object.fromEntries(Object.entries({ apiKey: this.apiKey, token: this.token }).filter(([, v]) => v));
      this.socket = io(this.url, { path: this.socketPath, auth });
    }
    this._listen();
    if (this.socket.connected) return;
    await /** @type {Promise<void>} */ (
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('recording socket did not connect in time')), this.ackTimeoutMs);
        this.socket.once('connect', () => {
          clearTimeout(timer);
          resolve();
        });
        this.socket.once('connect_error', (error) => {
          clearTimeout(timer);
          reject(new Error(`recording socket refused: ${error.message}`));
        });
      })
    );
  }

  _listen() {
    if (this._listening) return;
    this._listening = true;
    const mine = (handler) => (payload) => {
      if (payload?.recordingId === this.recordingId) handler(payload);
    };
    this.socket.on(
      'recording:progress',
      mine(({ percent }) => this._emit('progress', { percent })),
    );
    this.socket.on(
      'recording:ready',
      mine((payload) => this._ready(payload)),
    );
    this.socket.on(
      'recording:failed',
      mine(({ reason }) => {
        this._setState('failed');
        this._emit('failed', { reason });
      }),
    );
  }

  _ready({ downloadUrl, size, duration, width, height }) {
    if (this.state === 'ready') return;
    const link = this.url && downloadUrl ? new URL(downloadUrl, this.url).href : downloadUrl;
    this._setState('ready');
    this._emit('ready', { downloadUrl: link, size, duration, width, height });
  }

  /**
   * One request: emit with an acknowledgement; `{error}` or no answer in time rejects.
   * @param {string} event
   * @param {object} payload
   */
  request(event, payload) {
    return new Promise((resolve, reject) => {
      this.socket.timeout(this.ackTimeoutMs).emit(event, payload, (timedOut, answer) => {
        if (timedOut) reject(new RecordingError(event, 'no acknowledgement in time', { code: 'timeout' }));
        else if (answer && typeof answer === 'object' && answer.error) reject(new RecordingError(event, answer.error, answer));
        else resolve(answer);
      });
    });
  }

  // --- recording ---

  /**
   * Start recording `stream` into a new file of the recording (each start is one more file;
   * `process()` joins them in the order they were recorded).
   * @param {MediaStream} stream
   * @param {{trackId?: string}} [options]
   */
  async start(stream, { trackId } = {}) {
    if (this.mediaRecorder) throw new Error('already recording: stop() first');
    if (!this.MediaRecorderClass) throw new Error('this browser has no MediaRecorder');
    this._setState('connecting');
    await this.connect();
    this.segments += 1;
    this.trackId = trackId ?? (this.segments === 1 ? this.baseTrackId : `${this.baseTrackId}-${this.segments}`);
    const withVideo = stream.getVideoTracks().length > 0;
    const mimeType = this.mimeType || chooseMimeType(this.MediaRecorderClass, withVideo);
    const opened = await this.request('create-file', {
      recordingId: this.recordingId,
      trackId: this.trackId,
      mimeType: mimeType || (withVideo ? 'video/webm' : 'audio/webm'),
      startTime: Date.now(),
      ...(this.roomId ? { roomId: this.roomId } : {}),
      ...(this.userName ? { userName: this.userName } : {}),
    });
    this.nextSeq = opened?.nextSeq ?? 0;
    this.failure = null;
    this.bytes = 0;
    const recorder = new this.MediaRecorderClass(stream, mimeType ? { mimeType } : {});
    this.mediaRecorder = recorder;
    recorder.addEventListener('dataavailable', (event) => {
      const blob = event.data;
      if (!blob || !blob.size) return;
      this.pending = this.pending.then(() => this._take(blob)).catch((error) => this._fail(error));
    });
    recorder.start(this.timeslice);
    this._setState('recording');
    return opened;
  }

  // A blob from MediaRecorder, cut into numbered pieces that go out as the window allows.
  async _take(blob) {
    const buffer = await blob.arrayBuffer();
    for (const piece of piecesOf(buffer, this.maxPieceBytes)) {
      this.queue.push([this.nextSeq, piece]);
      this.nextSeq += 1;
    }
    this._pump();
  }

  _pump() {
    while (!this.failure && this.inFlight.size < this.window && this.queue.length) {
      const [seq, piece] = this.queue.shift();
      const sending = this._send(this.trackId, seq, piece).finally(() => {
        this.inFlight.delete(sending);
        this._pump();
      });
      this.inFlight.add(sending);
    }
  }

  // One piece, sent again after a passing failure (the server keeps it once).
  async _send(trackId, seq, piece) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const answer = await this.request('stream', { recordingId: this.recordingId, trackId, seq, data: piece });
        this.bytes += piece.byteLength;
        this._emit('chunk', { trackId, seq, bytes: piece.byteLength, duplicate: Boolean(answer?.duplicate) });
        return;
      } catch (error) {
        if (!(error instanceof RecordingError) || !error.passing || attempt >= this.retries) {
          this._fail(error);
          return;
        }
        await sleep(this.retryDelayMs * 2 ** attempt);
      }
    }
  }

  _fail(error) {
    if (this.failure) return;
    this.failure = error;
    this.queue = [];
    this._emit('error', { message: error?.message ?? String(error), code: error?.code ?? '' });
    if (this.mediaRecorder && this.mediaRecorder.state !== 'inactive') this.mediaRecorder.stop();
  }

  async _drain() {
    await this.pending;
    while (this.inFlight.size || (this.queue.length && !this.failure)) {
      this._pump();
      await Promise.all([...this.inFlight]);
    }
  }

  // Stop recording; every piece is sent, then the file is closed. Resolves with the server's
  // `{chunks, bytes, complete, missing, missingCount}`; rejects if the upload could not finish.
  async stop() {
    const recorder = this.mediaRecorder;
    if (!recorder) throw new Error('not recording');
    this._setState('stopping');
    if (recorder.state !== 'inactive') {
      await new Promise((resolve) => {
        recorder.addEventListener('stop', resolve, { once: true });
        recorder.stop();
      });
    }
    this.mediaRecorder = null;
    await this._drain();
    if (this.failure) {
      this._setState('failed');
      throw this.failure;
    }
    const closed = await this.request('stop-writing', {
      recordingId: this.recordingId,
      trackId: this.trackId,
      lastSeq: this.nextSeq - 1,
    });
    this._setState('stopped');
    this._emit('stopped', { trackId: this.trackId, ...closed });
    return closed;
  }

  /**
   * Ask the server to join the recording's files into one MP4 (of `width` x `height`, both or
   * neither). Resolves with the 'ready' detail once it plays; rejects with the reason if it fails.
   * @param {{width?: number, height?: number}} [size]
   */
  async process({ width, height } = {}) {
    await this.connect();
    let onReady;
    let onFailed;
    const done = new Promise((resolve, reject) => {
      onReady = (event) => resolve(event.detail);
      onFailed = (event) => reject(new RecordingError('process-recording', event.detail.reason, { code: 'failed' }));
      this.addEventListener('ready', onReady);
      this.addEventListener('failed', onFailed);
    });
    const forget = () => {
      this.removeEventListener('ready', onReady);
      this.removeEventListener('failed', onFailed);
    };
    done.then(forget, forget);
    this._setState('processing');
    let answer;
    try {
      answer = await this.request('process-recording', {
        recordingId: this.recordingId,
        ...(width && height ? { width, height } : {}),
      });
    } catch (error) {
      forget();
      this._setState('failed');
      throw error;
    }
    if (answer?.status === 'ready') this._ready(answer);
    else if (answer?.status === 'failed') {
      this._setState('failed');
      this._emit('failed', { reason: answer.reason });
    } else if (typeof answer?.percent === 'number') this._emit('progress', { percent: answer.percent });
    return done;
  }

  // Stop everything and close the socket (an upload in flight is abandoned).
  close() {
    if (this.mediaRecorder && this.mediaRecorder.state !== 'inactive') this.mediaRecorder.stop();
    this.mediaRecorder = null;
    this.queue = [];
    this.socket?.disconnect();
    this._setState('closed');
  }
}
