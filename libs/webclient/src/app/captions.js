// Live captions on the host and viewer pages: the server's `caption` events (partial
// text for the current speaker, then the final line; docs/captions.md) shown as an
// overlay under the stage (a toggle, large readable text, the speaker's name) and as a
// transcript that fills during the meeting. A Professional feature: `captions:refused`
// says why there are none.

import { $ } from './session.js';

// How many lines the overlay shows at once (the newest last).
const OVERLAY_LINES = 3;

export class CaptionsPanel {
  constructor(webinar, root) {
    this.webinar = webinar;
    this.lines = new Map(); // utterance id -> {name, text, final, timestamp}
    this.refusals = new Set();
    root.innerHTML = `
      <div class="captions">
        <div class="row">
          <button type="button" class="captions-toggle" aria-pressed="true">Hide captions</button>
          <button type="button" class="transcript-toggle" aria-pressed="false">Show transcript</button>
        </div>
        <div class="caption-overlay" role="log" aria-live="polite" aria-label="Live captions"></div>
        <p class="caption-note"></p>
        <section class="card transcript" aria-labelledby="transcript-heading" hidden>
          <h2 id="transcript-heading">Transcript</h2>
          <ol class="transcript-lines"></ol>
        </section>
      </div>`;
    this.overlay = $('.caption-overlay', root);
    this.note = $('.caption-note', root);
    this.transcript = $('.transcript', root);
    this.transcriptLines = $('.transcript-lines', root);
    const captionsToggle = $('.captions-toggle', root);
    captionsToggle.addEventListener('click', () => {
      const on = captionsToggle.getAttribute('aria-pressed') !== 'true';
      captionsToggle.setAttribute('aria-pressed', String(on));
      captionsToggle.textContent = on ? 'Hide captions' : 'Show captions';
      this.overlay.hidden = !on;
    });
    const transcriptToggle = $('.transcript-toggle', root);
    transcriptToggle.addEventListener('click', () => {
      const on = transcriptToggle.getAttribute('aria-pressed') !== 'true';
      transcriptToggle.setAttribute('aria-pressed', String(on));
      transcriptToggle.textContent = on ? 'Hide transcript' : 'Show transcript';
      this.transcript.hidden = !on;
    });
    webinar.onServerEvent('caption', (caption) => this._caption(caption));
    webinar.onServerEvent('captions:refused', ({ reason }) => {
      if (this.refusals.has(reason)) return;
      this.refusals.add(reason);
      this.note.textContent = `No captions: ${reason}`;
    });
  }

  // The final lines so far, in spoken order: {name, text, timestamp}.
  finalLines() {
    return [...this.lines.values()]
      .filter((line) => line.final && line.text)
      .sort((a, b) => a.timestamp - b.timestamp)
      .map(({ name, text, timestamp }) => ({ name, text, timestamp }));
  }

  // A caption made in this page (the browser path, src/azure-captions.js), shown as the
  // server's are.
  show(caption) {
    this._caption(caption);
  }

  _caption({ utterance_id: id, name, text, final, timestamp }) {
    if (!id) return;
    if (final && !text) this.lines.delete(id); // an utterance with no words: its partial goes
    else this.lines.set(id, { name: name || 'Someone', text, final: Boolean(final), timestamp });
    this._renderOverlay();
    if (final) this._renderTranscript();
  }

  _renderOverlay() {
    const newest = [...this.lines.values()].sort((a, b) => a.timestamp - b.timestamp).slice(-OVERLAY_LINES);
    this.overlay.replaceChildren(...newest.map((line) => row('p', line)));
  }

  _renderTranscript() {
    this.transcriptLines.replaceChildren(...this.finalLines().map((line) => row('li', line)));
  }
}

function row(tag, { name, text, final = true }) {
  const element = document.createElement(tag);
  if (!final) element.className = 'partial';
  const who = document.createElement('strong');
  who.textContent = `${name}: `;
  element.append(who, text);
  return element;
}
