// The host page's media effects (Professional): noise suppression (RNNoise), a blurred
// background, and a background image from a file the host picks. Before going live they
// act on the preview (a background runs on a copy of the camera, shown in the preview;
// noise suppression is heard only by others, so it waits for going live); going live
// publishes with them (publish()), and while live each change goes to the SDK, which
// swaps the sent track without renegotiating. An Essential organisation is told, when it
// goes live, that these are part of the Professional plan, and goes live without them.

import { BackgroundEffect } from '../effects/background.js';
import { $ } from './session.js';

const BLUR_PX = 10;

export class EffectsPanel {
  // video: the preview <video>; preview(): the page's preview MediaStream (camera and microphone).
  constructor(root, { video, preview, say = () => {}, assetsUrl = new URL('/demo/', window.location.href).href }) {
    this.video = video;
    this.preview = preview;
    this.say = say;
    this.assetsUrl = assetsUrl;
    this.webinar = null;
    this.noise = false;
    this.background = null; // null | {blur} | {image}
    this._imageUrl = null; // the object URL of the picked image
    this._previewEffect = null; // the background on the preview before going live
    this._previewSource = null; // the preview camera it copies
    this._busy = Promise.resolve();
    root.innerHTML = `
      <section class="effects" aria-labelledby="effects-heading">
        <h3 id="effects-heading">Effects <span class="hint">(Professional plan)</span></h3>
        <div class="row" role="group" aria-label="Effects">
          <button type="button" class="noise-toggle" aria-pressed="false">Noise suppression</button>
          <button type="button" class="blur-toggle" aria-pressed="false">Blur background</button>
          <button type="button" class="image-clear quiet" hidden>Remove background image</button>
        </div>
        <label for="background-image">Background image</label>
        <input id="background-image" class="image-file" type="file" accept="image/*">
        <p class="hint effects-note" aria-live="polite"></p>
      </section>`;
    this.noiseToggle = $('.noise-toggle', root);
    this.blurToggle = $('.blur-toggle', root);
    this.imageFile = $('.image-file', root);
    this.imageClear = $('.image-clear', root);
    this.note = $('.effects-note', root);
    this.noiseToggle.addEventListener('click', () => this._do(() => this.setNoise(!this.noise)));
    this.blurToggle.addEventListener('click', () =>
      this._do(() => this.setBackground(this.background && 'blur' in this.background ? null : { blur: BLUR_PX })),
    );
    this.imageFile.addEventListener('change', () => {
      const [file] = this.imageFile.files;
      if (file) this._do(() => this._useImage(file));
    });
    this.imageClear.addEventListener('click', () => this._do(() => this.setBackground(null)));
  }

  // The publish options for `type` as the toggles stand.
  options(type) {
    if (type === 'microphone') return this.noise ? { noiseSuppression: 'rnnoise' } : {};
    if (type === 'camera') return this.background ? { background: this.background } : {};
    return {};
  }

  // Goes live with the effects: publishes the preview's camera and microphone through them.
  async publish(webinar, { camera, microphone }) {
    this.webinar = webinar;
    webinar.addEventListener('effect', ({ detail }) => {
      if (detail.effect === 'noiseSuppression' && detail.fallback) {
        this.note.textContent = `RNNoise is not available (${detail.fallback}): your browser's own suppression is on.`;
      }
    });
    this._closePreviewEffect();
    try {
      if (camera) await webinar.publish.camera({ track: camera, ...this.options('camera') });
      if (microphone) await webinar.publish.microphone({ track: microphone, ...this.options('microphone') });
    } catch (error) {
      if (error.code !== 'professional-only') throw error;
      this._refused(error);
      if (camera && !webinar.client.producers.has('camera')) await webinar.publish.camera({ track: camera });
      if (microphone && !webinar.client.producers.has('microphone')) {
        await webinar.publish.microphone({ track: microphone });
      }
    }
    if (webinar.plan !== 'professional' && !this.noiseToggle.disabled) this._refused(null);
    this.refresh();
  }

  // Points the preview at what is sent (or the camera itself when no background runs); a
  // preview background follows a camera switched before going live.
  refresh() {
    const [camera] = this.preview()?.getVideoTracks() ?? [];
    if (this._previewEffect && camera && camera !== this._previewSource) {
      this._previewSource = camera;
      this._previewEffect.setInput(camera.clone()).catch((error) => this.say(error.message, 'error'));
    }
    const sent = this.webinar?.client?.producers.get('camera')?.track;
    const shown = sent ?? this._previewEffect?.track ?? null;
    const stream = this.preview();
    if (shown && this.background) this.video.srcObject = new MediaStream([shown]);
    else if (stream && this.video.srcObject !== stream) this.video.srcObject = stream;
  }

  async setNoise(on) {
    if (this.webinar?.client?.producers.has('microphone')) {
      await this.webinar.setNoiseSuppression(on ? 'rnnoise' : 'browser');
    }
    this.noise = on;
    this._show();
    this.say(on ? 'Noise suppression is on.' : 'Noise suppression is off.');
  }

  async setBackground(setting) {
    if (this.webinar?.client?.producers.has('camera')) await this.webinar.setBackground(setting);
    else if (!this.webinar) await this._previewBackground(setting);
    this.background = setting;
    if (!setting || !('image' in setting)) this._forgetImage(setting?.image);
    this._show();
    this.refresh();
    if (!setting) this.say('No virtual background.');
    else this.say('blur' in setting ? 'Your background is blurred.' : 'Your background image is on.');
  }

  // --- internals ---

  async _useImage(file) {
    const url = URL.createObjectURL(file);
    try {
      await this.setBackground({ image: url });
    } catch (error) {
      URL.revokeObjectURL(url);
      throw error;
    }
    this._forgetImage(url);
    this._imageUrl = url;
  }

  // The object URL of a replaced image is freed once nothing draws it.
  _forgetImage(keep) {
    if (this._imageUrl && this._imageUrl !== keep) URL.revokeObjectURL(this._imageUrl);
    if (this._imageUrl !== keep) this._imageUrl = null;
  }

  // Before going live: the background on a copy of the preview's camera, shown in the preview.
  async _previewBackground(setting) {
    if (!setting) return this._closePreviewEffect();
    if (this._previewEffect) return this._previewEffect.setBackground(setting);
    const [camera] = this.preview()?.getVideoTracks() ?? [];
    if (!camera) throw new Error('There is no camera to preview the background on.');
    const effect = new BackgroundEffect(camera.clone(), setting, { assetsUrl: this.assetsUrl });
    try {
      await effect.start();
    } catch (error) {
      effect.close();
      effect.input.stop();
      throw error;
    }
    this._previewEffect = effect;
    this._previewSource = camera;
  }

  _closePreviewEffect() {
    const effect = this._previewEffect;
    this._previewEffect = null;
    effect?.close();
    effect?.input.stop();
  }

  // Essential (or a plan the server did not say): the effects are off and their controls disabled.
  _refused(error) {
    this.noise = false;
    this.background = null;
    this._forgetImage(null);
    for (const control of [this.noiseToggle, this.blurToggle, this.imageFile, this.imageClear]) control.disabled = true;
    this._show();
    this.note.textContent = error
      ? `${error.message}: you are live without effects.`
      : 'Noise suppression and virtual backgrounds are part of the Professional plan.';
  }

  _show() {
    this.noiseToggle.setAttribute('aria-pressed', String(this.noise));
    this.blurToggle.setAttribute('aria-pressed', String(Boolean(this.background && 'blur' in this.background)));
    this.imageClear.hidden = !(this.background && 'image' in this.background);
    if (!this.imageClear.hidden) return;
    this.imageFile.value = '';
  }

  // One change at a time, in order; a failure goes to the status line.
  _do(action) {
    this._busy = this._busy.then(async () => {
      try {
        await action();
      } catch (error) {
        this.say(error.reason ?? error.message, 'error');
      }
    });
    return this._busy;
  }
}
