// The stage of the host and viewer pages: one tile per person who sends media (their
// camera, or their initials when they only speak), one large tile per shared screen,
// the received audio played through hidden <audio> elements, and the active speaker's
// tile highlighted. Only the SDK's events drive it.
//
// Tiles carry data-peer-id and data-source ('camera' | 'screen'); the speaking tile has
// data-speaking="true". The grid's data-count says how many tiles show (the CSS lays
// them out by it).

export class Stage {
  // grid: where tiles go; audio: where <audio> elements go; onAudioBlocked: called when the
  // browser refuses to play sound before a click (autoplay rules).
  constructor(webinar, { grid, audio, onAudioBlocked = () => {} }) {
    this.webinar = webinar;
    this.grid = grid;
    this.audio = audio;
    this.onAudioBlocked = onAudioBlocked;
    this.audioBlocked = false;
    webinar.addEventListener('trackadded', ({ detail }) => this._add(detail));
    webinar.addEventListener('trackremoved', ({ detail }) => this._remove(detail));
    webinar.addEventListener('activespeaker', ({ detail }) => this._highlight(detail.peerId));
    webinar.addEventListener('peers', () => this._rename());
  }

  get tileCount() {
    return this.grid.querySelectorAll('.tile').length;
  }

  // Plays every received sound after a click allowed it.
  async enableAudio() {
    await this.webinar.speaker?.resume();
    await Promise.all([...this.audio.querySelectorAll('audio')].map((element) => element.play().catch(() => {})));
    this.audioBlocked = false;
  }

  clear() {
    this.grid.replaceChildren();
    this.audio.replaceChildren();
    this._layout();
  }

  _add({ track, kind, source, producerId, peerId, name }) {
    const owner = peerId ?? producerId;
    if (kind === 'audio') {
      const element = document.createElement('audio');
      element.autoplay = true;
      element.dataset.producerId = producerId;
      element.dataset.peerId = owner;
      element.srcObject = new MediaStream([track]);
      this.audio.append(element);
      element.play().catch(() => this._audioBlocked());
      this._tile(owner, 'camera', name); // someone who only speaks still gets a tile to highlight
      return;
    }
    const tile = this._tile(owner, source === 'screen' ? 'screen' : 'camera', name);
    const video = tile.querySelector('video');
    video.dataset.producerId = producerId;
    video.srcObject = new MediaStream([track]);
    video.hidden = false;
    tile.querySelector('.initials').hidden = true;
    video.play().catch(() => {}); // muted video may always play; a refusal only delays it
  }

  _remove({ kind, producerId }) {
    if (kind === 'audio') {
      const element = this.audio.querySelector(`[data-producer-id="${CSS.escape(producerId)}"]`);
      const owner = element?.dataset.peerId;
      element?.remove();
      if (owner) this._dropIfEmpty(this.grid.querySelector(`.tile[data-peer-id="${CSS.escape(owner)}"][data-source="camera"]`));
      return;
    }
    const video = this.grid.querySelector(`video[data-producer-id="${CSS.escape(producerId)}"]`);
    if (!video) return;
    const tile = video.closest('.tile');
    video.srcObject = null;
    delete video.dataset.producerId;
    video.hidden = true;
    tile.querySelector('.initials').hidden = false;
    this._dropIfEmpty(tile);
  }

  // A camera tile stays while its person still speaks; a screen tile goes with the screen.
  _dropIfEmpty(tile) {
    if (!tile) return;
    const owner = tile.dataset.peerId;
    const hasVideo = Boolean(tile.querySelector('video[data-producer-id]'));
    const hasAudio = Boolean(this.audio.querySelector(`audio[data-peer-id="${CSS.escape(owner)}"]`));
    if (!hasVideo && (tile.dataset.source === 'screen' || !hasAudio)) {
      tile.remove();
      this._layout();
    }
  }

  _tile(owner, source, name) {
    const selector = `.tile[data-peer-id="${CSS.escape(owner)}"][data-source="${source}"]`;
    let tile = this.grid.querySelector(selector);
    if (tile) return tile;
    tile = document.createElement('figure');
    tile.className = 'tile';
    tile.dataset.peerId = owner;
    tile.dataset.source = source;
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // sound plays through the <audio> elements
    video.hidden = true;
    const initials = document.createElement('div');
    initials.className = 'initials';
    initials.setAttribute('aria-hidden', 'true');
    const caption = document.createElement('figcaption');
    const label = document.createElement('span');
    label.className = 'name';
    const speaking = document.createElement('span');
    speaking.className = 'speaking-note visually-hidden';
    caption.append(label, speaking);
    tile.append(video, initials, caption);
    this._label(tile, name);
    if (source === 'screen') this.grid.prepend(tile);
    else this.grid.append(tile);
    if (this.webinar.speaker?.current === owner) this._highlight(owner);
    this._layout();
    return tile;
  }

  _label(tile, name) {
    const who = name || this.webinar.peers.get(tile.dataset.peerId)?.name || 'Someone';
    tile.querySelector('.name').textContent = tile.dataset.source === 'screen' ? `${who}'s screen` : who;
    tile.querySelector('.initials').textContent = initialsOf(who);
    tile.setAttribute('aria-label', tile.dataset.source === 'screen' ? `${who}'s shared screen` : `${who}'s video`);
  }

  _rename() {
    for (const tile of this.grid.querySelectorAll('.tile')) {
      const peer = this.webinar.peers.get(tile.dataset.peerId);
      if (peer) this._label(tile, peer.name);
    }
  }

  _highlight(peerId) {
    for (const tile of this.grid.querySelectorAll('.tile[data-speaking]')) {
      delete tile.dataset.speaking;
      tile.querySelector('.speaking-note').textContent = '';
    }
    if (peerId === null) return;
    const tile = this.grid.querySelector(`.tile[data-peer-id="${CSS.escape(peerId)}"][data-source="camera"]`);
    if (!tile) return;
    tile.dataset.speaking = 'true';
    tile.querySelector('.speaking-note').textContent = ' (speaking)';
  }

  _layout() {
    this.grid.dataset.count = String(this.tileCount);
    this.grid.dataset.screen = this.grid.querySelector('.tile[data-source="screen"]') ? 'true' : 'false';
  }

  _audioBlocked() {
    if (this.audioBlocked) return;
    this.audioBlocked = true;
    this.onAudioBlocked();
  }
}

function initialsOf(name) {
  const words = name.trim().split(/\s+/).filter(Boolean);
  return words.slice(0, 2).map((word) => word[0].toUpperCase()).join('') || '?';
}
