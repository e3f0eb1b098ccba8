// @ts-check
// A virtual background for a camera track: MediaPipe selfie segmentation (its script,
// WebAssembly and model served by the gateway next to the SDK: nothing is fetched from
// anywhere else) finds the person; each camera frame is composited on a canvas: the
// person over the frame blurred ({blur: px}) or over an image ({image: url}). The
// canvas's captureStream track, at the camera's frame rate, is what is sent, and stays
// the same when the setting changes, so a change needs no renegotiation.
//
// Segmentation runs beside the compositing, one frame at a time, as fast as the machine
// allows; every camera frame is drawn with the latest person mask, so the output keeps
// the camera's frame rate even where segmentation is slower.

/** @typedef {{blur: number} | {image: string}} BackgroundSetting */
/**
 * @typedef {object} Segmenter
 * @property {(image: HTMLVideoElement, use: (mask: CanvasImageSource | null) => void) => Promise<void>} segment
 *   finds the person in `image` and calls `use` with the mask (opaque where the person is)
 * @property {() => void} close
 */

export const SEGMENTATION_SCRIPT = 'selfie_segmentation.js';
export const MAX_BLUR_PX = 50;

/**
 * The background setting, checked: {blur: px} (1 to 50), {image: url} or null (none).
 * @param {unknown} setting @returns {BackgroundSetting | null}
 */
export function backgroundSetting(setting) {
  if (setting === undefined || setting === null) return null;
  const value = /** @type {any} */ (setting);
  if (typeof value === 'object' && 'blur' in value && !('image' in value)) {
    const blur = Number(value.blur);
    if (!Number.isFinite(blur) || blur < 1 || blur > MAX_BLUR_PX) {
      throw new TypeError(`background blur must be a number of pixels from 1 to ${MAX_BLUR_PX}`);
    }
    return { blur };
  }
  if (typeof value === 'object' && typeof value.image === 'string' && value.image && !('blur' in value)) {
    return { image: value.image };
  }
  throw new TypeError('background must be {blur: px}, {image: url} or null');
}

// MediaPipe's script, loaded once per page from `assetsUrl`; it defines window.SelfieSegmentation.
/** @type {Map<string, Promise<void>>} */
const scripts = new Map();

/** @param {string} src */
function loadScript(src) {
  let loading = scripts.get(src);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = src;
      script.async = true;
      script.onload = () => resolve(undefined);
      script.onerror = () => {
        scripts.delete(src);
        reject(new Error(`could not load ${src}`));
      };
      document.head.append(script);
    });
    scripts.set(src, loading);
  }
  return loading;
}

/**
 * MediaPipe selfie segmentation (the landscape model, the lighter one), every file from `assetsUrl`.
 * @param {string} assetsUrl @returns {Promise<Segmenter>}
 */
export async function loadSelfieSegmentation(assetsUrl) {
  await loadScript(new URL(SEGMENTATION_SCRIPT, assetsUrl).href);
  const SelfieSegmentation = /** @type {any} */ (globalThis).SelfieSegmentation;
  if (typeof SelfieSegmentation !== 'function') throw new Error('MediaPipe selfie segmentation did not load');
  const locateFile = (/** @type {string} */ file) => new URL(file, assetsUrl).href;
  const solution = new SelfieSegmentation({ locateFile });
  solution.setOptions({ modelSelection: 1, selfieMode: false });
  /** @type {((mask: CanvasImageSource | null) => void) | null} */
  let take = null;
  solution.onResults((/** @type {any} */ results) => {
    take?.(results.segmentationMask ?? null);
    take = null;
  });
  await solution.initialize();
  return {
    async segment(image, use) {
      // MediaPipe may reuse or close its mask once the callback returns: `use` runs within it.
      take = use;
      await solution.send({ image });
      take = null;
    },
    close() {
      solution.close().catch(() => {});
    },
  };
}

export class BackgroundEffect {
  /**
   * @param {MediaStreamTrack} input  the camera
   * @param {BackgroundSetting} setting
   * @param {{assetsUrl: string, loadSegmenter?: (assetsUrl: string) => Promise<Segmenter>}} options
   */
  constructor(input, setting, { assetsUrl, loadSegmenter = loadSelfieSegmentation }) {
    this.input = input;
    this.setting = setting;
    this.assetsUrl = assetsUrl;
    this._loadSegmenter = loadSegmenter;
    /** @type {MediaStreamTrack | null} what to send */
    this.track = null;
    // What was done, for a page (and tests) to see: frames drawn, masks made.
    this.stats = { framesDrawn: 0, masksMade: 0 };
    this._closed = false;
    /** @type {Segmenter | null} */
    this._segmenter = null;
    /** @type {HTMLImageElement | null} */
    this._image = null;
    this._hasMask = false;
    this._video = document.createElement('video');
    this._video.muted = true;
    this._video.playsInline = true;
    this._canvas = document.createElement('canvas');
    this._ctx = /** @type {CanvasRenderingContext2D} */ (this._canvas.getContext('2d'));
    this._mask = document.createElement('canvas');
    this._maskCtx = /** @type {CanvasRenderingContext2D} */ (this._mask.getContext('2d'));
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this._timer = undefined;
    /** @type {Array<(value: unknown) => void>} */
    this._frameWaiters = [];
  }

  // The latest person mask (opaque where the person is), at the camera's size; null before the first.
  get mask() {
    return this._hasMask ? this._mask : null;
  }

  // Loads the model, starts the camera frames and the first mask; resolves with the track to send.
  async start() {
    this._segmenter = await this._loadSegmenter(this.assetsUrl);
    await this.setBackground(this.setting);
    await this._play(this.input);
    const frameRate = this.input.getSettings().frameRate || 30;
    this.track = this._canvas.captureStream(frameRate).getVideoTracks()[0];
    await this._segmentOnce(); // the first frame sent already has the person cut out
    this._drawLoop();
    this._segmentLoop();
    return this.track;
  }

  /** @param {BackgroundSetting} setting */
  async setBackground(setting) {
    if ('image' in setting) this._image = await loadImage(setting.image);
    else this._image = null;
    this.setting = setting;
  }

  // Another camera (a device switch): the output track stays.
  /** @param {MediaStreamTrack} track */
  async setInput(track) {
    const old = this.input;
    this.input = track;
    await this._play(track);
    if (old !== track) old.stop();
  }

  // Stops what this made (the frames, the segmenter, the output track); the input stays.
  close() {
    this._closed = true;
    clearTimeout(this._timer);
    for (const resolve of this._frameWaiters.splice(0)) resolve(undefined);
    this._segmenter?.close();
    this._video.srcObject = null;
    this.track?.stop();
  }

  // --- internals ---

  /** @param {MediaStreamTrack} track */
  async _play(track) {
    this._video.srcObject = new MediaStream([track]);
    await this._video.play();
  }

  // One composited frame per camera frame (requestVideoFrameCallback; a timer where there is none).
  _drawLoop() {
    const video = /** @type {any} */ (this._video);
    const next = () => {
      if (this._closed) return;
      this._draw();
      for (const resolve of this._frameWaiters.splice(0)) resolve(undefined);
      if (typeof video.requestVideoFrameCallback === 'function') video.requestVideoFrameCallback(next);
      else this._timer = setTimeout(next, 1000 / (this.input.getSettings().frameRate || 30));
    };
    next();
  }

  // Segments the latest camera frame, then waits for a newer one.
  async _segmentLoop() {
    while (!this._closed) {
      await this._nextFrame();
      try {
        await this._segmentOnce();
      } catch {
        // a frame the model refused: the next one
      }
    }
  }

  _nextFrame() {
    return new Promise((resolve) => this._frameWaiters.push(resolve));
  }

  async _segmentOnce() {
    const video = this._video;
    if (!video.videoWidth || !this._segmenter) return;
    await this._segmenter.segment(video, (mask) => {
      if (!mask || this._closed) return;
      this._size(this._mask, video.videoWidth, video.videoHeight);
      const ctx = this._maskCtx;
      ctx.globalCompositeOperation = 'copy';
      ctx.filter = 'blur(2px)'; // a softer edge around the person
      ctx.drawImage(mask, 0, 0, this._mask.width, this._mask.height);
      ctx.filter = 'none';
      this._hasMask = true;
      this.stats.masksMade += 1;
    });
  }

  _draw() {
    const video = this._video;
    const { videoWidth: width, videoHeight: height } = video;
    if (!width || !height) return;
    this._size(this._canvas, width, height);
    const ctx = this._ctx;
    if (this._hasMask) {
      // The person: the mask, then the frame kept where the mask is.
      ctx.globalCompositeOperation = 'copy';
      ctx.drawImage(this._mask, 0, 0, width, height);
      ctx.globalCompositeOperation = 'source-in';
      ctx.drawImage(video, 0, 0, width, height);
      ctx.globalCompositeOperation = 'destination-over';
    } else {
      ctx.globalCompositeOperation = 'copy'; // no mask yet: the background everywhere
    }
    this._drawBackground(width, height);
    ctx.globalCompositeOperation = 'source-over';
    this.stats.framesDrawn += 1;
  }

  /** @param {number} width @param {number} height */
  _drawBackground(width, height) {
    const ctx = this._ctx;
    const setting = /** @type {any} */ (this.setting);
    if (this._image) {
      // Cover: the image fills the frame, cropped to its aspect.
      const image = this._image;
      const scale = Math.max(width / image.naturalWidth, height / image.naturalHeight);
      const w = image.naturalWidth * scale;
      const h = image.naturalHeight * scale;
      ctx.drawImage(image, (width - w) / 2, (height - h) / 2, w, h);
      return;
    }
    // Drawn a little larger than the frame: a blur near an edge would fade into transparency.
    const margin = setting.blur * 2;
    ctx.filter = `blur(${setting.blur}px)`;
    ctx.drawImage(this._video, -margin, -margin, width + 2 * margin, height + 2 * margin);
    ctx.filter = 'none';
  }

  /** @param {HTMLCanvasElement} canvas @param {number} width @param {number} height */
  _size(canvas, width, height) {
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
  }
}

/** @param {string} url @returns {Promise<HTMLImageElement>} */
async function loadImage(url) {
  const image = new Image();
  image.crossOrigin = 'anonymous'; // another site's image must allow it, or the canvas could not be sent
  image.src = url;
  try {
    await image.decode();
  } catch {
    throw new Error(`the background image ${url.startsWith('data:') ? '(data URL)' : url} could not be loaded`);
  }
  return image;
}
