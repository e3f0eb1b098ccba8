// @ts-check
// The webinar SDK: one Webinar object per session, on SeedClient (the seed's SFU
// protocol over unmodified mediasoup-client and socket.io-client). A page joins a
// room, publishes its camera, microphone or screen, and listens for what it
// receives; every producer of the room is consumed automatically. A dropped
// connection (network, gateway or media node) is rejoined by itself: the local
// tracks are published again and the room's tracks received again.
//
// Events (each a CustomEvent; `detail` as shown):
//   'trackadded'      {track, kind, source, type, consumerId, producerId, peerId, name, role}
//                     source: 'camera' | 'microphone' | 'screen' (null when the server does not say)
//   'trackremoved'    {kind, consumerId, producerId, peerId, by}
//   'peerjoined'      {peerId, name, role}
//   'peerleft'        {peerId, name, role}
//   'peers'           {peers: [{peerId, name, role}], me}   the room's people changed (any reason)
//   'activespeaker'   {peerId, name}   who is talking now (peerId null: nobody), debounced
//   'muted'           {by}             the host muted this page's microphone
//   'peermuted'       {peerId, name, by}
//   'ended'           {by}             the host ended the webinar; the session is over
//   'removed'         {by}             the host removed this page; the session is over
//   'connectionstate' {state, reason}  connecting | connected | joining | joined | reconnecting | left | ended | removed
//   'error'           {where, message}
//   'effect'          {effect, active, fallback}  effect: 'noiseSuppression' | 'background'
//                     (Professional, src/effects/); fallback: why RNNoise is not running and
//                     the browser's own noise suppression is used instead
//   'recording'       {recording}      the room's server-side recording began ({recordingId,
//                     startTime, hostName, ...}) or ended (null); also as `webinar.recording`,
//                     from the join on (a page that joins late is told too)
//
//   const webinar = new Webinar({ apiKey });            // or { ticket } from a viewer link
//   webinar.addEventListener('trackadded', ({ detail }) => show(detail.track));
//   await webinar.join('weekly-sync', { name: 'Host', token });
//   await webinar.publish.camera();

import { ActiveSpeaker } from './speaker.js';
import { MEDIA_TYPES, SeedClient } from './seed-client.js';
import { RestClient } from './rest.js';
import { MediaEffects } from './effects/index.js';

export { RestClient, RestError, ENDPOINTS } from './rest.js';
export { CAMERA_ENCODINGS, MEDIA_TYPES, SeedClient } from './seed-client.js';
export { ActiveSpeaker } from './speaker.js';
export { EffectsRefused, MediaEffects } from './effects/index.js';

// How long to wait before each rejoin attempt; the last delay repeats until leave().
export const RECONNECT_DELAYS_MS = Object.freeze([250, 1000, 2000, 4000, 8000]);
// Rejoins that find the room missing before a page that did not host it reopens it itself.
export const HOST_FIRST_ATTEMPTS = 3;
const ROOM_MISSING = /room does not exist/;

// Refusals that end a session for good: rejoining cannot help.
const FINAL_REFUSALS = [
  { pattern: /webinar has ended/, state: 'ended' },
  { pattern: /removed from this room/, state: 'removed' },
];

/** @typedef {'camera' | 'microphone' | 'screen'} MediaType */
/** @typedef {{peerId: string, name: string, role: string}} Peer */
/**
 * @typedef {object} PublishOptions
 * @property {MediaStreamTrack | null} [track]  what to send (default: captured from the device)
 * @property {string} [deviceId]
 * @property {'rnnoise' | 'browser' | 'off' | boolean} [noiseSuppression]  the microphone's ('rnnoise': Professional)
 * @property {{blur: number} | {image: string} | null} [background]  the camera's (Professional)
 */

/**
 * @typedef {object} WebinarOptions
 * @property {string} [url]      the gateway (default: the page's origin)
 * @property {string} [apiKey]   the tenant's API key (hosts and integrations)
 * @property {string} [ticket]   a viewer link's room ticket (viewers; no API key needed)
 * @property {(options: object) => any} [createClient]  how the SFU client is made (tests pass a stand-in)
 * @property {ActiveSpeaker | null} [activeSpeaker]     null turns speaker detection off
 * @property {readonly number[]} [reconnectDelaysMs]
 * @property {number} [stalledTransportMs]  how long a transport may stay disconnected before a rejoin
 * @property {EventTarget | null} [network]  what says 'online' / 'offline' (default: window)
 * @property {import('./effects/index.js').EffectsOptions} [effects]  media effects (default files: <url>/demo/)
 */

export class Webinar extends EventTarget {
  /** @param {WebinarOptions} [options] */
  constructor({
    url = globalThis.location?.origin ?? '',
    apiKey = '',
    ticket = '',
    createClient = defaultClient,
    activeSpeaker = typeof AudioContext === 'undefined' ? null : new ActiveSpeaker(),
    reconnectDelaysMs = RECONNECT_DELAYS_MS,
    stalledTransportMs = 5000,
    network = typeof window === 'undefined' ? null : window,
    effects = {},
  } = {}) {
    super();
    this.url = url;
    this.apiKey = apiKey;
    this.ticket = ticket;
    this.rest = new RestClient({ baseUrl: url, apiKey });
    /** @type {any} the SeedClient of the current connection */
    this.client = null;
    /** @type {string | null} */
    this.room = null;
    this.muted = false;
    /** @type {Map<string, Peer>} everyone else in the room, by peer (socket) id */
    this.peers = new Map();
    /** @type {Peer | null} this page in the room */
    this.me = null;
    /** @type {any} the room's server-side recording while it runs */
    this._recording = null;
    this.speaker = activeSpeaker;
    const emit = (/** @type {object} */ detail) => this._emit('effect', detail);
    this.effects = new MediaEffects({ assetsUrl: `${url.replace(/\/+$/, '')}/demo/`, ...effects, emit });
    this._createClient = createClient;
    this._reconnectDelaysMs = reconnectDelaysMs;
    this._stalledTransportMs = stalledTransportMs;
    this._network = network;
    this._state = 'new';
    /** @type {{room: string, name: string, token: string} | null} what to rejoin */
    this._target = null;
    /** @type {Map<MediaType, MediaStreamTrack | null>} what to publish again after a rejoin */
    this._published = new Map();
    this._reconnecting = false;
    this._watchedSockets = new WeakSet();
    /** @type {Array<[string, (payload: any) => void]>} server events features listen to */
    this._serverListeners = [];
    this.speaker?.addEventListener('change', (event) => {
      const id = /** @type {CustomEvent} */ (event).detail.id;
      this._emit('activespeaker', { peerId: id, name: id === null ? null : (this.peers.get(id)?.name ?? null) });
    });
    this._onOffline = () => {
      if (this._state === 'joined') this.client?.disconnect(); // the socket's 'disconnect' starts the rejoin
    };
    this._network?.addEventListener('offline', this._onOffline);
    // publish.camera(), publish.microphone(), publish.screen(): each takes an optional
    // {track} to send, or {deviceId} to capture from; Professional effects: the camera's
    // {background: {blur: px} | {image: url}} and the microphone's {noiseSuppression: 'rnnoise'}.
    /** @type {Readonly<Record<MediaType, (options?: PublishOptions) => Promise<any>>>} */
    this.publish = Object.freeze(
      /** @type {Record<MediaType, any>} */ (
        Object.fromEntries(
          MEDIA_TYPES.map((type) => [type, (options = {}) => this._publish(/** @type {MediaType} */ (type), options)]),
        )
      ),
    );
  }

  get state() {
    return this._state;
  }

  // The tenant's plan, as the server said when this page joined ('essential' | 'professional').
  /** @returns {string | null} */
  get plan() {
    return this.client?.plan ?? null;
  }

  // This page's peer in the room, which another socket of the page presents to act in the
  // peer's role (the whiteboard's toggle for a co-host); null when not in a room.
  /** @returns {{peer_id: string, peer_key: string} | null} */
  get peerProof() {
    const client = this.client;
    return client?.peerId && client.peerKey ? { peer_id: client.peerId, peer_key: client.peerKey } : null;
  }

  // The room's chat when this page (re)joined, oldest first (the seed's `chatHistory`).
  /** @returns {Array<any>} */
  get chatHistory() {
    return this.client?.chatHistory ?? [];
  }

  // How many viewers watch (everyone else whose role is viewer).
  get viewerCount() {
    return [...this.peers.values()].filter((peer) => peer.role === 'viewer').length;
  }

  /**
   * Joins `room` as `name`; `token` (a bearer token) makes the socket act as that user.
   * @param {string} room
   * @param {{name?: string, token?: string}} [options]
   */
  async join(room, { name = 'guest', token = this.rest.token } = {}) {
    if (this._target) throw new Error('already joined: leave() first');
    this._target = { room, name, token };
    try {
      const state = await this._open();
      this._setState('joined');
      return state;
    } catch (error) {
      this._error('join', error);
      this._target = null;
      const final = finalState(error);
      this._setState(final ?? 'left', messageOf(error));
      throw error;
    }
  }

  /**
   * Stops sending `type` ('camera', 'microphone' or 'screen') and stops its track.
   * @param {MediaType} type
   */
  unpublish(type) {
    this._published.delete(type);
    this._joined().unpublish(type);
    this.effects.close(type);
    if (type === 'microphone') this.muted = false;
  }

  /**
   * Sends `track` instead of what `type` sends now (another camera or microphone), without
   * renegotiating; the old track stops.
   * @param {MediaType} type
   * @param {MediaStreamTrack} track
   */
  async replaceTrack(type, track) {
    const producer = this._joined().producers.get(type);
    if (!producer) throw new Error(`not publishing ${type}`);
    if (await this.effects.replaceInput(type, track)) return; // the effect takes it; what is sent stays
    const old = producer.track;
    await producer.replaceTrack({ track });
    old?.stop();
    this._published.set(type, track);
  }

  /**
   * The camera's virtual background while live (Professional): {blur: px}, {image: url} or null.
   * @param {import('./effects/index.js').BackgroundSetting | null} setting
   */
  setBackground(setting) {
    return this._changeEffect('camera', { background: setting });
  }

  /**
   * The microphone's noise suppression while live: 'rnnoise' (Professional), 'browser' or 'off'.
   * @param {import('./effects/index.js').NoiseMode | boolean} mode
   */
  setNoiseSuppression(mode) {
    return this._changeEffect('microphone', { noiseSuppression: mode });
  }

  // Pauses the microphone (nothing is sent while muted); unmute() resumes it.
  mute() {
    this._microphone()?.pause();
    this.muted = true;
  }

  unmute() {
    this._microphone()?.resume();
    this.muted = false;
  }

  /** @param {string} peerId  the host mutes someone's microphone */
  muteParticipant(peerId) {
    return this._joined().request('participant:mute', { peer_id: peerId });
  }

  /** @param {string} peerId  the host removes someone from the room */
  removeParticipant(peerId) {
    return this._joined().request('participant:remove', { peer_id: peerId });
  }

  // The host ends the webinar for everyone ('ended' reaches every page, this one too).
  async end() {
    const client = this._joined();
    try {
      await client.request('room:end', {});
    } catch (error) {
      // 'room:ended' may close this page's socket before the acknowledgement arrives.
      if (this._state !== 'ended') throw error;
    }
  }

  // The room as the server sees it (peers with roles, screen share, paused media).
  roomInfo() {
    return this._joined().roomInfo();
  }

  /**
   * A feature's request on the room's socket (chat, captions, ...): resolves with the
   * acknowledgement, rejects with the server's `{error}` text.
   * @param {string} event @param {object} [payload]
   */
  request(event, payload = {}) {
    return this._joined().request(event, payload);
  }

  /**
   * Listens to a server event on this session's socket, and on every socket a rejoin opens;
   * returns a function that stops listening.
   * @param {string} event @param {(payload: any) => void} handler
   */
  onServerEvent(event, handler) {
    const entry = /** @type {[string, (payload: any) => void]} */ ([event, handler]);
    this._serverListeners.push(entry);
    this.client?.socket?.on(event, handler);
    return () => {
      this._serverListeners = this._serverListeners.filter((listener) => listener !== entry);
      this.client?.socket?.off(event, handler);
    };
  }

  // Leaves the room and closes the socket; the object may join again.
  async leave() {
    const client = this.client;
    this._target = null;
    if (client && client.state === 'joined') {
      try {
        await client.exit();
      } catch (error) {
        this._error('leave', error);
      }
    }
    this._close('left');
  }

  // --- internals ---

  // Connects, joins the target room and receives its tracks; the room state on success.
  // {create: false}: join only a room someone has opened (a rejoin that leaves reopening
  // the room to its host).
  async _open({ create = true } = {}) {
    const target = this._target;
    if (!target) throw new Error('no room to join');
    const client = this._createClient({
      url: this.url,
      apiKey: this.apiKey,
      ticket: this.ticket,
      token: target.token,
      name: target.name,
      keepTracks: true,
    });
    this.client = client;
    this._attach(client);
    try {
      await client.join(target.room, { create });
    } catch (error) {
      if (this.client === client) this.client = null;
      client.disconnect();
      throw error;
    }
    this.room = target.room;
    this._takePeers(client.room, client.socket?.id ?? null);
    this._setRecording(client.recording ?? null);
    return client.room;
  }

  /**
   * @param {MediaType} type
   * @param {PublishOptions} options
   */
  async _publish(type, { track = null, deviceId, ...effects } = {}) {
    try {
      const client = this._joined();
      const captured = track ?? (deviceId ? await captureFrom(type, deviceId) : null);
      const sent = await this.effects.prepare(type, captured, effects, this.plan);
      let producer;
      try {
        producer = await client.publish(type, { track: sent });
      } catch (error) {
        this.effects.close(type, { keepInput: true });
        throw error;
      }
      this._published.set(type, producer.track);
      if (type === 'microphone' && this.muted) producer.pause();
      return producer;
    } catch (error) {
      this._error(`publish ${type}`, error);
      throw error;
    }
  }

  // After a rejoin: the tracks that were being sent, still live, are sent again.
  async _republish() {
    for (const [type, track] of [...this._published]) {
      if (!track || track.readyState === 'ended') {
        this._published.delete(type);
        continue;
      }
      const producer = await this.client.publish(type, { track });
      if (type === 'microphone' && this.muted) producer.pause();
    }
  }

  /** @param {'camera' | 'microphone'} type @param {{background?: unknown, noiseSuppression?: unknown}} change */
  async _changeEffect(type, change) {
    try {
      const producer = this.client?.producers.get(type) ?? null;
      const track = await this.effects.change(type, change, { plan: this.plan, sending: producer?.track ?? null });
      if (!track || track === producer.track) return;
      await producer.replaceTrack({ track }); // no renegotiation: the same producer sends the new track
      this._published.set(type, track);
    } catch (error) {
      this._error(`effect ${type}`, error);
      throw error;
    }
  }

  _joined() {
    if (!this.client || this.client.state !== 'joined') throw new Error('join a room first');
    return this.client;
  }

  _microphone() {
    return this.client?.producers.get('microphone') ?? null;
  }

  /** @param {any} client */
  _attach(client) {
    const current = () => this.client === client;
    client.addEventListener('state', (/** @type {any} */ { detail }) => {
      if (!current()) return;
      if (detail.state === 'connected' && client.socket) this._watchSocket(client, client.socket);
      if (['connecting', 'connected', 'joining'].includes(detail.state) && !this._reconnecting) {
        this._setState(detail.state, detail.reason ?? null);
      }
      if (detail.state === 'disconnected' && this._state === 'joined') this._reconnect(detail.reason ?? 'connection lost');
    });
    // A transport that fails, or stays disconnected (its media node went quiet), is
    // rejoined rather than waited for: ICE takes ~30 s to call a dead peer 'failed'.
    /** @type {Record<string, ReturnType<typeof setTimeout> | undefined>} */
    const stalled = {};
    client.addEventListener('transportstate', (/** @type {any} */ { detail }) => {
      clearTimeout(stalled[detail.which]);
      if (!current() || this._state !== 'joined') return;
      if (detail.state === 'failed') this._reconnect(`${detail.which} transport failed`);
      if (detail.state === 'disconnected') {
        stalled[detail.which] = setTimeout(() => {
          if (current() && this._state === 'joined') this._reconnect(`${detail.which} transport lost its media server`);
        }, this._stalledTransportMs);
      }
    });
    client.addEventListener('consumer', (/** @type {any} */ { detail }) => {
      if (!current()) return;
      const { track, kind, type, source, consumerId, producerId, peerId = null } = detail;
      const peer = peerId ? this.peers.get(peerId) : undefined;
      this._emit('trackadded', {
        track, kind, source: source ?? null, type, consumerId, producerId, peerId,
        name: peer?.name ?? null, role: peer?.role ?? null,
      }); // prettier-ignore
      if (kind === 'audio') this.speaker?.watch(peerId ?? producerId, track);
    });
    client.addEventListener('consumerclosed', (/** @type {any} */ { detail }) => {
      const { kind, consumerId, producerId, peerId = null, by } = detail;
      if (kind === 'audio') this.speaker?.unwatch(peerId ?? producerId);
      this._emit('trackremoved', { kind, consumerId, producerId, peerId, by });
    });
    client.addEventListener('failure', (/** @type {any} */ { detail }) => {
      if (current()) this._emit('error', { ...detail });
    });
  }

  // What the room says about its people, straight from the socket.
  /** @param {any} client @param {any} socket */
  _watchSocket(client, socket) {
    if (this._watchedSockets.has(socket)) return;
    this._watchedSockets.add(socket);
    const current = () => this.client === client;
    for (const [event, handler] of this._serverListeners) socket.on(event, handler);
    /** @param {any} payload @returns {Peer} */
    const peer = (payload) => ({ peerId: payload?.peer_id ?? null, name: payload?.name ?? '', role: payload?.role ?? '' });
    const mine = (/** @type {any} */ payload) => payload?.peer_id && payload.peer_id === socket.id;
    socket.on('peerJoined', (/** @type {any} */ payload) => {
      if (!current()) return;
      const joined = peer(payload);
      if (joined.peerId) this.peers.set(joined.peerId, joined);
      this._emit('peerjoined', joined);
      this._emitPeers();
    });
    socket.on('peerLeft', (/** @type {any} */ payload) => {
      if (!current()) return;
      const left = peer(payload);
      if (left.peerId) this.peers.delete(left.peerId);
      this._emit('peerleft', left);
      this._emitPeers();
    });
    socket.on('roleChanged', (/** @type {any} */ payload) => {
      if (!current()) return;
      const changed = peer(payload);
      if (mine(payload) && this.me) this.me = { ...this.me, role: changed.role };
      else if (changed.peerId && this.peers.has(changed.peerId)) this.peers.set(changed.peerId, changed);
      this._emitPeers();
    });
    socket.on('participant:muted', (/** @type {any} */ payload) => {
      if (!current()) return;
      if (mine(payload)) {
        this._microphone()?.pause();
        this.muted = true;
        this._emit('muted', { by: payload?.by ?? null });
      } else {
        this._emit('peermuted', { ...peer(payload), by: payload?.by ?? null });
      }
    });
    socket.on('participant:removed', (/** @type {any} */ payload) => {
      if (current() && mine(payload)) this._finish('removed', payload?.by ?? null);
    });
    socket.on('room:ended', (/** @type {any} */ payload) => {
      if (current()) this._finish('ended', payload?.by ?? null);
    });
    socket.on('recording:started', (/** @type {any} */ payload) => {
      if (current()) this._setRecording(payload ?? null);
    });
    for (const ended of ['recording:stopped', 'recording:failed']) {
      socket.on(ended, (/** @type {any} */ payload) => {
        if (current() && payload?.recordingId === this._recording?.recordingId) this._setRecording(null);
      });
    }
  }

  // The room's server-side recording while it runs, or null.
  get recording() {
    return this._recording;
  }

  /** @param {any} recording */
  _setRecording(recording) {
    if ((recording?.recordingId ?? null) === (this._recording?.recordingId ?? null)) return;
    this._recording = recording;
    this._emit('recording', { recording });
  }

  // The session is over for good (ended by the host, or removed): no rejoin.
  /** @param {'ended' | 'removed'} state @param {string | null} by */
  _finish(state, by) {
    this._target = null;
    this._emit(state, { by });
    this._close(state);
  }

  /** @param {string} state */
  _close(state) {
    const client = this.client;
    this.client = null;
    client?.disconnect();
    for (const track of this._published.values()) track?.stop();
    this._published.clear();
    this.effects.closeAll();
    this.speaker?.close();
    this.room = null;
    this.muted = false;
    this.peers.clear();
    this.me = null;
    this._recording = null;
    this._setState(state);
  }

  // Rejoin until it works, the session ends, or leave() is called.
  /** @param {string} reason */
  async _reconnect(reason) {
    if (this._reconnecting || !this._target) return;
    this._reconnecting = true;
    const old = this.client;
    this.client = null;
    old?.disconnect();
    this.peers.clear();
    this._emitPeers();
    this._setState('reconnecting', reason);
    // A room whose media node died is open nowhere: whoever opens it again hosts a room
    // opened on the socket, so its host reopens it and the others wait for it, unless it
    // stays missing HOST_FIRST_ATTEMPTS times (the host is gone too).
    const wasHost = this.me?.role === 'host';
    let missing = 0;
    try {
      for (let attempt = 0; this._target; attempt += 1) {
        await this._online();
        await sleep(this._reconnectDelaysMs[Math.min(attempt, this._reconnectDelaysMs.length - 1)] ?? 1000);
        if (!this._target) return;
        try {
          await this._open({ create: wasHost || missing >= HOST_FIRST_ATTEMPTS });
          await this._republish();
          this._setState('joined', 'reconnected');
          return;
        } catch (error) {
          const final = finalState(error);
          if (final) {
            this._finish(final, null);
            return;
          }
          if (ROOM_MISSING.test(messageOf(error))) missing += 1;
          this._error('reconnect', error);
          const client = this.client;
          this.client = null;
          client?.disconnect();
        }
      }
    } finally {
      this._reconnecting = false;
    }
  }

  // Resolves when the browser says it is online (at once when it does not tell).
  _online() {
    const network = this._network;
    if (!network || globalThis.navigator?.onLine !== false) return Promise.resolve();
    return new Promise((resolve) => network.addEventListener('online', () => resolve(undefined), { once: true }));
  }

  /** @param {any} room @param {string | null} myId */
  _takePeers(room, myId) {
    this.peers.clear();
    this.me = null;
    for (const [id, info] of parsePeers(room?.peers)) {
      const entry = { peerId: id, name: info?.name ?? '', role: info?.role ?? '' };
      if (id === myId) this.me = entry;
      else this.peers.set(id, entry);
    }
    this._emitPeers();
  }

  _emitPeers() {
    this._emit('peers', { peers: [...this.peers.values()], me: this.me });
  }

  /** @param {string} where @param {unknown} error */
  _error(where, error) {
    this._emit('error', { where, message: messageOf(error) });
  }

  /** @param {string} state @param {string | null} [reason] */
  _setState(state, reason = null) {
    this._state = state;
    this._emit('connectionstate', { state, reason });
  }

  /** @param {string} name @param {object} detail */
  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

/** @param {object} options */
function defaultClient(options) {
  return new SeedClient(options);
}

/** @param {unknown} error */
function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

/** @param {unknown} error @returns {'ended' | 'removed' | null} */
function finalState(error) {
  const message = messageOf(error);
  const found = FINAL_REFUSALS.find(({ pattern }) => pattern.test(message));
  return found ? /** @type {'ended' | 'removed'} */ (found.state) : null;
}

// The room's `peers`: a JSON string of [socket id, {id, name, role}] pairs (the mediasoup
// rooms sample's serialised Map), or the pairs themselves.
/** @param {unknown} peers @returns {Array<[string, any]>} */
export function parsePeers(peers) {
  let pairs = peers;
  if (typeof peers === 'string') {
    try {
      pairs = JSON.parse(peers);
    } catch {
      return [];
    }
  }
  if (!Array.isArray(pairs)) return [];
  return pairs.filter((pair) => Array.isArray(pair) && typeof pair[0] === 'string');
}

/** @param {MediaType} type @param {string} deviceId @returns {Promise<MediaStreamTrack>} */
async function captureFrom(type, deviceId) {
  if (type === 'screen') throw new Error('a screen is chosen by the browser, not by device id');
  const constraints =
    type === 'microphone'
      ? { audio: { deviceId: { exact: deviceId } } }
      : { video: { deviceId: { exact: deviceId }, width: { ideal: 1280 }, height: { ideal: 720 } } };
  const stream = await navigator.mediaDevices.getUserMedia(constraints);
  return type === 'microphone' ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
