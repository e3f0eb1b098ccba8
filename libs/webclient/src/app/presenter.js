// The viewer page's way to the stage: raise a hand (`cohost:request`), hear the host's
// answer (`cohost:respond`), and once a co-host send a camera, a microphone or the screen.
// The buttons follow the role the room gives this page (a demoted co-host's media stops).

import { $ } from './session.js';

const SENDERS = new Set(['host', 'co-host', 'participant']);
const LABELS = {
  camera: ['Start camera', 'Stop camera'],
  microphone: ['Start microphone', 'Stop microphone'],
  screen: ['Share screen', 'Stop sharing'],
};

export class PresenterControls {
  constructor(webinar, root, { say }) {
    this.webinar = webinar;
    this.say = say;
    root.innerHTML = `
      <div class="row presenter">
        <button type="button" class="raise-hand">Raise hand to present</button>
        <div class="row presenting" role="group" aria-label="Present" hidden>
          <button type="button" data-type="camera" aria-pressed="false">Start camera</button>
          <button type="button" data-type="microphone" aria-pressed="false">Start microphone</button>
          <button type="button" data-type="screen" aria-pressed="false">Share screen</button>
        </div>
      </div>`;
    this.raise = $('.raise-hand', root);
    this.presenting = $('.presenting', root);
    this.raise.addEventListener('click', () => this._raiseHand());
    for (const toggle of this.presenting.querySelectorAll('[data-type]')) {
      toggle.addEventListener('click', () => this._toggle(toggle));
    }
    webinar.onServerEvent('cohost:respond', ({ approved, by }) => {
      this.raise.disabled = false;
      this.say(approved ? `${by} made you a co-host: you may present now.` : `${by} declined your request to present.`);
    });
    webinar.addEventListener('peers', () => this._follow());
    webinar.addEventListener('connectionstate', () => this._follow());
  }

  async _raiseHand() {
    this.raise.disabled = true;
    try {
      await this.webinar.request('cohost:request', {});
      this.say('Your hand is raised: the host will answer.');
    } catch (error) {
      this.raise.disabled = false;
      this.say(error.reason ?? error.message, 'error');
    }
  }

  async _toggle(toggle) {
    const type = toggle.dataset.type;
    toggle.disabled = true;
    try {
      if (this.webinar.client?.producers.has(type)) this.webinar.unpublish(type);
      else await this.webinar.publish[type]();
    } catch (error) {
      this.say(error.reason ?? error.message, 'error');
    } finally {
      toggle.disabled = false;
      this._labels();
    }
  }

  // What this page may do follows its role: a viewer raises a hand, a co-host presents.
  _follow() {
    const joined = this.webinar.state === 'joined';
    const sends = joined && SENDERS.has(this.webinar.me?.role);
    if (joined && !sends) {
      // Demoted: the server closed this page's producers; close them here too.
      for (const type of Object.keys(LABELS)) {
        if (this.webinar.client?.producers.has(type)) this.webinar.unpublish(type);
      }
    }
    this.raise.hidden = !joined || sends;
    this.presenting.hidden = !sends;
    this._labels();
  }

  _labels() {
    for (const toggle of this.presenting.querySelectorAll('[data-type]')) {
      const on = Boolean(this.webinar.client?.producers.has(toggle.dataset.type));
      toggle.textContent = LABELS[toggle.dataset.type][on ? 1 : 0];
      toggle.setAttribute('aria-pressed', String(on));
    }
  }
}
