// @ts-check
// Who is talking: `hark` (as the seed's clients use it) on each watched audio track says
// when its level crosses the threshold; this turns those edges into one debounced
// "active speaker", so a page's highlight neither flickers between two people talking
// over each other nor drops on a breath.
//
//   const speakers = new ActiveSpeaker();
//   speakers.addEventListener('change', ({ detail }) => highlight(detail.id)); // id or null
//   speakers.watch('peer-a', audioTrack);

import hark from 'hark';

/**
 * @typedef {object} Harker  what `hark` returns (an event emitter)
 * @property {(event: string, handler: (...args: any[]) => void) => void} on
 * @property {() => void} stop
 * @property {() => Promise<void>} [resume]
 */

/** @typedef {(stream: MediaStream, options: object) => Harker} HarkFactory */

/**
 * @typedef {object} ActiveSpeakerOptions
 * @property {number} [threshold]  dB above which a track counts as speaking (hark's threshold)
 * @property {number} [interval]   ms between level checks (hark's interval)
 * @property {number} [holdMs]     how long someone must talk before the highlight moves to them
 * @property {number} [silenceMs]  how long the speaker must be silent before nobody is highlighted
 * @property {HarkFactory} [createHark]  tests pass a stand-in
 * @property {() => number} [now]
 */

export class ActiveSpeaker extends EventTarget {
  /** @param {ActiveSpeakerOptions} [options] */
  constructor({ threshold = -60, interval = 100, holdMs = 400, silenceMs = 1200, createHark, now } = {}) {
    super();
    this.threshold = threshold;
    this.interval = interval;
    this.holdMs = holdMs;
    this.silenceMs = silenceMs;
    /** @type {HarkFactory} */
    this._createHark = createHark ?? /** @type {HarkFactory} */ (/** @type {unknown} */ (hark));
    this._now = now ?? (() => performance.now());
    /** @type {Map<string, {harker: Harker, speakingSince: number | null, lastSpoke: number}>} */
    this._watched = new Map();
    /** @type {string | null} the highlighted id */
    this.current = null;
    /** @type {AudioContext | null} one context for every track */
    this._audioContext = null;
    /** @type {ReturnType<typeof setInterval> | null} */
    this._timer = null;
  }

  /**
   * Starts listening to `track` (audio) under `id`; watching an id again replaces its track.
   * @param {string} id
   * @param {MediaStreamTrack} track
   */
  watch(id, track) {
    this.unwatch(id);
    const options = { threshold: this.threshold, interval: this.interval, play: false };
    if (typeof AudioContext !== 'undefined') {
      this._audioContext ??= new AudioContext();
      Object.assign(options, { audioContext: this._audioContext });
    }
    const harker = this._createHark(new MediaStream([track]), options);
    const entry = { harker, speakingSince: /** @type {number | null} */ (null), lastSpoke: 0 };
    harker.on('speaking', () => {
      entry.speakingSince = this._now();
      this._decide();
    });
    harker.on('stopped_speaking', () => {
      entry.speakingSince = null;
      entry.lastSpoke = this._now();
      this._decide();
    });
    this._watched.set(id, entry);
    this._timer ??= setInterval(() => this._decide(), this.interval);
  }

  /** @param {string} id */
  unwatch(id) {
    const entry = this._watched.get(id);
    if (!entry) return;
    entry.harker.stop();
    this._watched.delete(id);
    if (this.current === id) this._set(null);
    if (this._watched.size === 0) this._stopTimer();
  }

  // A page calls this from a click when the browser suspended the audio context (autoplay rules).
  async resume() {
    await this._audioContext?.resume();
  }

  close() {
    for (const id of [...this._watched.keys()]) this.unwatch(id);
    this._stopTimer();
    this._audioContext?.close().catch(() => {});
    this._audioContext = null;
  }

  // The rule, run on every edge and every interval: the speaker keeps the highlight while
  // talking; someone else takes it after talking for holdMs; it goes after silenceMs of nobody.
  _decide() {
    const now = this._now();
    const current = this.current === null ? null : this._watched.get(this.current);
    if (current && current.speakingSince !== null) return;
    let next = null;
    let earliest = Infinity;
    for (const [id, entry] of this._watched) {
      if (entry.speakingSince !== null && now - entry.speakingSince >= this.holdMs && entry.speakingSince < earliest) {
        next = id;
        earliest = entry.speakingSince;
      }
    }
    if (next !== null) this._set(next);
    else if (current && now - current.lastSpoke >= this.silenceMs) this._set(null);
  }

  /** @param {string | null} id */
  _set(id) {
    if (this.current === id) return;
    this.current = id;
    this.dispatchEvent(new CustomEvent('change', { detail: { id } }));
  }

  _stopTimer() {
    if (this._timer !== null) clearInterval(this._timer);
    this._timer = null;
  }
}
