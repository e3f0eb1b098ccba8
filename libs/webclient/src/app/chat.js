// The chat panel of the host and viewer pages: the room's history when the page (re)joins,
// messages as they come (`newMessage`), deletions (`messageDeleted`), sending with Enter,
// files (a host uploads with the API key; everyone downloads: a viewer link's guest with
// its room ticket), and deleting for hosts and co-hosts. Text is always put in the page as
// text, never as HTML.

import { $ } from './session.js';

const MODERATORS = new Set(['host', 'co-host']);

export class ChatPanel {
  // apiKey: a host's key (uploads, downloads); ticket: a guest's room ticket (downloads).
  constructor(webinar, root, { roomId, apiKey = '', ticket = '' }) {
    this.webinar = webinar;
    this.roomId = roomId;
    this.apiKey = apiKey;
    this.ticket = ticket;
    root.innerHTML = `
      <section class="card chat" aria-labelledby="chat-heading">
        <h2 id="chat-heading">Chat</h2>
        <ol class="messages" aria-live="polite" aria-label="Messages"></ol>
        <form class="chat-form">
          <label for="chat-input">Message</label>
          <textarea id="chat-input" rows="2" maxlength="2000" autocomplete="off"></textarea>
          <div class="file-field" hidden>
            <label for="chat-file">Attach a file</label>
            <input id="chat-file" type="file">
          </div>
          <button type="submit">Send</button>
          <p class="chat-error" role="alert"></p>
        </form>
      </section>`;
    this.list = $('.messages', root);
    this.input = $('#chat-input', root);
    this.file = $('#chat-file', root);
    this.error = $('.chat-error', root);
    $('.file-field', root).hidden = !apiKey;
    $('.chat-form', root).addEventListener('submit', (event) => {
      event.preventDefault();
      this.send();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        this.send();
      }
    });
    webinar.onServerEvent('newMessage', (message) => this._append(message));
    webinar.onServerEvent('messageDeleted', ({ id }) => this.list.querySelector(`[data-id="${CSS.escape(id)}"]`)?.remove());
    webinar.addEventListener('connectionstate', ({ detail }) => {
      if (detail.state === 'joined') this.showHistory();
    });
    webinar.addEventListener('peers', () => this._refreshControls());
  }

  showHistory() {
    this.list.replaceChildren();
    for (const message of this.webinar.chatHistory) this._append(message);
  }

  async send() {
    const text = this.input.value.trim();
    const file = this.file?.files?.[0] ?? null;
    if (!text && !file) return;
    this.error.textContent = '';
    try {
      const payload = { message: text, room_id: this.roomId };
      if (file) payload.file = await this._upload(file);
      const stored = await this.webinar.request('sendMessage', payload);
      this._append(stored);
      this.input.value = '';
      if (this.file) this.file.value = '';
    } catch (error) {
      this.error.textContent = error.reason ?? error.message;
    }
  }

  async _upload(file) {
    const form = new FormData();
    form.append('file', file, file.name);
    const response = await fetch(`/room/${encodeURIComponent(this.roomId)}/upload`, {
      method: 'POST',
      headers: { 'x-api-key': this.apiKey },
      body: form,
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.message ?? `the upload failed (${response.status})`);
    return answer.data.filename;
  }

  _append(message) {
    if (!message?.id || this.list.querySelector(`[data-id="${CSS.escape(message.id)}"]`)) return;
    const item = document.createElement('li');
    item.dataset.id = message.id;
    const author = document.createElement('strong');
    author.className = 'author';
    author.textContent = message.name || 'Someone';
    const time = document.createElement('time');
    const when = new Date(message.timestamp);
    time.dateTime = when.toISOString();
    time.textContent = when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = message.message;
    item.append(author, ' ', time, ' ', text);
    if (message.file) item.append(' ', this._fileLink(message.file));
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'delete-message quiet';
    remove.textContent = 'Delete';
    remove.setAttribute('aria-label', `Delete the message of ${message.name}`);
    remove.addEventListener('click', () =>
      this.webinar.request('deleteMessage', { id: message.id }).catch((error) => {
        this.error.textContent = error.reason ?? error.message;
      }),
    );
    item.append(' ', remove);
    this.list.append(item);
    this._refreshControls();
    item.scrollIntoView({ block: 'nearest' });
  }

  _fileLink(file) {
    const link = document.createElement('a');
    link.className = 'file';
    link.textContent = `${file.originalName} (${formatSize(file.size)})`;
    link.download = file.originalName;
    if (this.ticket) {
      link.href = `${file.url}?ticket=${encodeURIComponent(this.ticket)}`;
      return link;
    }
    // With the key, which a link cannot carry: fetch it, then hand the browser the bytes.
    link.href = file.url;
    link.addEventListener('click', async (event) => {
      event.preventDefault();
      const response = await fetch(file.url, { headers: { 'x-api-key': this.apiKey } });
      if (!response.ok) {
        this.error.textContent = `the download failed (${response.status})`;
        return;
      }
      const url = URL.createObjectURL(await response.blob());
      const save = document.createElement('a');
      save.href = url;
      save.download = file.originalName;
      save.click();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    });
    return link;
  }

  _refreshControls() {
    const moderator = MODERATORS.has(this.webinar.me?.role);
    for (const button of this.list.querySelectorAll('.delete-message')) button.hidden = !moderator;
  }
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
