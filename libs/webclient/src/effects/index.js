// @ts-check
// Media effects, a Professional feature: noise suppression (RNNoise) on the microphone
// and a virtual background (MediaPipe selfie segmentation) on the camera, both in the
// browser before encoding, so the SFU only forwards. A Webinar holds one MediaEffects:
// it turns what a page captured into what is sent, and changes it while live; the Webinar
// swaps the producer's track (producer.replaceTrack) when what is sent changes.
//
// The plan comes from the server (the SFU socket's `join` acknowledgement carries the
// tenant's `plan`); anything but 'professional' is refused with an EffectsRefused error.
// The browser's own noise suppression ('browser', 'off') is no effect and needs no plan.

import { BackgroundEffect, backgroundSetting } from './background.js';
import { NoiseSuppressor, noiseMode } from './noise.js';

export { BackgroundEffect, backgroundSetting, loadSelfieSegmentation } from './background.js';
export { NoiseSuppressor, noiseMode, rnnoiseUnsupported } from './noise.js';

/** @typedef {import('./noise.js').NoiseMode} NoiseMode */
/** @typedef {import('./background.js').BackgroundSetting} BackgroundSetting */
/**
 * What an effect is to the manager: the track it sends, and how it changes.
 * @typedef {object} Effect
 * @property {MediaStreamTrack} track
 * @property {(track: MediaStreamTrack) => Promise<void>} setInput
 * @property {() => void} close
 * @property {(mode: NoiseMode) => Promise<void>} [setMode]
 * @property {(setting: BackgroundSetting) => Promise<void>} [setBackground]
 * @property {NoiseMode} [mode]
 * @property {string | null} [fallback]
 * @property {boolean | null} [browserSuppression]
 */

export const PROFESSIONAL = 'professional';

// The error an Essential tenant (or a server that does not say its plan) gets.
export class EffectsRefused extends Error {
  /** @param {string} feature @param {string | null} plan */
  constructor(feature, plan) {
    super(
      plan
        ? `${feature} is part of the Professional plan; this organisation is on ${capitalise(plan)}`
        : `${feature} is part of the Professional plan; the server has not said this organisation's plan: join first`,
    );
    this.name = 'EffectsRefused';
    this.code = 'professional-only';
    this.feature = feature;
    this.plan = plan;
  }
}

/**
 * Throws EffectsRefused unless `plan` is Professional.
 * @param {string | null | undefined} plan @param {string} feature
 */
export function requireProfessional(plan, feature) {
  if (plan !== PROFESSIONAL) throw new EffectsRefused(feature, plan ?? null);
}

/**
 * @typedef {object} EffectsOptions
 * @property {string} [assetsUrl]  the folder the effect files are served from (the gateway's /demo/)
 * @property {(input: MediaStreamTrack, mode: NoiseMode, options: {assetsUrl: string}) => Promise<Effect>}
 *   [createNoiseSuppressor]  how RNNoise is started (tests pass a stand-in)
 * @property {(input: MediaStreamTrack, setting: BackgroundSetting, options: {assetsUrl: string}) => Promise<Effect>}
 *   [createBackground]  how a virtual background is started (tests pass a stand-in)
 * @property {(constraints: MediaStreamConstraints) => Promise<MediaStream>} [getUserMedia]
 * @property {(detail: object) => void} [emit]  told of every change ('effect' events of the Webinar)
 */

export class MediaEffects {
  /** @param {EffectsOptions} [options] */
  constructor({
    assetsUrl = '/demo/',
    createNoiseSuppressor = startNoiseSuppressor,
    createBackground = startBackground,
    getUserMedia = (constraints) => navigator.mediaDevices.getUserMedia(constraints),
    emit = () => {},
  } = {}) {
    this.assetsUrl = assetsUrl;
    this._createNoiseSuppressor = createNoiseSuppressor;
    this._createBackground = createBackground;
    this._getUserMedia = getUserMedia;
    this._emit = emit;
    /** @type {Map<'camera' | 'microphone', {effect: Effect, input: MediaStreamTrack}>} */
    this._running = new Map();
    /**
     * What runs now: the microphone's noise suppression (why RNNoise fell back, if it did; whether
     * the track also has the browser's own), the camera's background.
     * @type {{noiseSuppression: NoiseMode | null, noiseSuppressionFallback: string | null,
     *   browserNoiseSuppression: boolean | null, background: BackgroundSetting | null}}
     */
    this.state = {
      noiseSuppression: null,
      noiseSuppressionFallback: null,
      browserNoiseSuppression: null,
      background: null,
    };
  }

  /**
   * What to send for `type`: `track` itself, or an effect's track when `options` ask for one
   * (the camera or microphone is captured here when no track is given).
   * @param {string} type @param {MediaStreamTrack | null} track
   * @param {{noiseSuppression?: unknown, background?: unknown}} options @param {string | null} plan
   * @returns {Promise<MediaStreamTrack | null>}
   */
  async prepare(type, track, options, plan) {
    if (type === 'microphone') {
      const mode = noiseMode(options.noiseSuppression);
      if (mode !== 'rnnoise') {
        if (mode) this.state.noiseSuppression = mode;
        return track;
      }
      requireProfessional(plan, 'Noise suppression');
      const input = track ?? (await this._capture('microphone'));
      return this._start('microphone', input, () => this._createNoiseSuppressor(input, mode, this._options()));
    }
    if (type === 'camera') {
      const setting = backgroundSetting(options.background);
      if (!setting) return track;
      requireProfessional(plan, 'A virtual background');
      const input = track ?? (await this._capture('camera'));
      return this._start('camera', input, () => this._createBackground(input, setting, this._options()));
    }
    return track;
  }

  /**
   * Changes `type`'s effect while `sending` is sent. Resolves with the track to send from
   * now on when it changed (the caller replaces the producer's track), else null.
   * @param {'camera' | 'microphone'} type
   * @param {{noiseSuppression?: unknown, background?: unknown}} change
   * @param {{plan: string | null, sending: MediaStreamTrack | null}} now
   * @returns {Promise<MediaStreamTrack | null>}
   */
  async change(type, change, { plan, sending }) {
    if (!sending) throw new Error(`not publishing the ${type}: publish it first`);
    const running = this._running.get(type);
    if (type === 'microphone') {
      const mode = /** @type {NoiseMode} */ (noiseMode(change.noiseSuppression) ?? 'browser');
      if (mode === 'rnnoise') requireProfessional(plan, 'Noise suppression');
      if (running) {
        await running.effect.setMode?.(mode);
        this._noiseState(running.effect);
        return null;
      }
      if (mode !== 'rnnoise') {
        this.state.noiseSuppression = mode;
        return null;
      }
      return this._start('microphone', sending, () => this._createNoiseSuppressor(sending, mode, this._options()));
    }
    const setting = backgroundSetting(change.background);
    if (setting) requireProfessional(plan, 'A virtual background');
    if (!setting) {
      if (!running) return null;
      // Back to the camera itself: its frames are sent again, the effect stops.
      this._running.delete(type);
      running.effect.close();
      this.state.background = null;
      this._emit({ effect: 'background', active: null });
      return running.input;
    }
    if (running) {
      await running.effect.setBackground?.(setting);
      this.state.background = setting;
      this._emit({ effect: 'background', active: setting });
      return null;
    }
    return this._start('camera', sending, () => this._createBackground(sending, setting, this._options()));
  }

  // The effect `type` runs through (a NoiseSuppressor or BackgroundEffect), or null.
  /** @param {string} type @returns {Effect | null} */
  running(type) {
    return this._running.get(/** @type {any} */ (type))?.effect ?? null;
  }

  /**
   * Another camera or microphone for `type`'s effect (the sent track stays); false when none runs.
   * @param {string} type @param {MediaStreamTrack} track
   */
  async replaceInput(type, track) {
    const running = this._running.get(/** @type {any} */ (type));
    if (!running) return false;
    await running.effect.setInput(track);
    running.input = track;
    return true;
  }

  // Stops `type`'s effect and the camera or microphone it was fed (unless `keepInput`).
  /** @param {string} type @param {{keepInput?: boolean}} [options] */
  close(type, { keepInput = false } = {}) {
    const running = this._running.get(/** @type {any} */ (type));
    if (!running) return;
    this._running.delete(/** @type {any} */ (type));
    running.effect.close();
    if (!keepInput) running.input.stop();
    if (type === 'camera') this.state.background = null;
    else this.state.noiseSuppression = null;
  }

  closeAll() {
    for (const type of [...this._running.keys()]) this.close(type);
  }

  // --- internals ---

  _options() {
    return { assetsUrl: this.assetsUrl };
  }

  /**
   * @param {'camera' | 'microphone'} type @param {MediaStreamTrack} input
   * @param {() => Promise<Effect>} create
   */
  async _start(type, input, create) {
    const effect = await create();
    this._running.set(type, { effect, input });
    if (type === 'microphone') this._noiseState(effect);
    else {
      this.state.background = /** @type {any} */ (effect).setting ?? null;
      this._emit({ effect: 'background', active: this.state.background });
    }
    return effect.track;
  }

  /** @param {Effect} effect */
  _noiseState(effect) {
    this.state.noiseSuppression = effect.mode ?? null;
    this.state.noiseSuppressionFallback = effect.fallback ?? null;
    this.state.browserNoiseSuppression = effect.browserSuppression ?? null;
    this._emit({ effect: 'noiseSuppression', active: effect.mode ?? null, fallback: effect.fallback ?? null });
  }

  /** @param {'camera' | 'microphone'} type */
  async _capture(type) {
    const stream = await this._getUserMedia(
      // RNNoise works best without the browser's own suppression before it.
      type === 'camera'
        ? { video: { width: { ideal: 1280 }, height: { ideal: 720 } } }
        : { audio: { noiseSuppression: false } },
    );
    return type === 'camera' ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
  }
}

/** @param {MediaStreamTrack} input @param {NoiseMode} mode @param {{assetsUrl: string}} options */
async function startNoiseSuppressor(input, mode, options) {
  const suppressor = new NoiseSuppressor(input, options);
  await suppressor.start(mode);
  return suppressor;
}

/** @param {MediaStreamTrack} input @param {BackgroundSetting} setting @param {{assetsUrl: string}} options */
async function startBackground(input, setting, options) {
  const effect = new BackgroundEffect(input, setting, options);
  try {
    await effect.start();
  } catch (error) {
    effect.close();
    throw error;
  }
  return /** @type {Effect} */ (/** @type {unknown} */ (effect));
}

/** @param {string} text */
function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
