// The webinar SDK: one Webinar object per session, on SeedClient (the seed's SFU
// protocol over unmodified mediasoup-client and socket.io-client). A page joins a
// room, publishes its camera, microphone or screen, and listens for what it
// receives; every producer of the room is consumed automatically.
//
// Events (each a CustomEvent; `detail` as shown):
//   'trackadded'      {track, kind, type, consumerId, producerId}   a remote track arrived
//   'trackremoved'    {kind, consumerId, producerId, by}            it went away
//   'peerjoined'      {peerId, name, role}
//   'peerleft'        {peerId, name, role}
//   'connectionstate' {state, reason}   new | connecting | connected | joining | joined | left | disconnected
//   'error'           {where, message}
//
//   const webinar = new Webinar({ apiKey });
//   webinar.addEventListener('trackadded', ({ detail }) => show(detail.track));
//   await webinar.join('weekly-sync', { name: 'Host', token });
//   await webinar.publish.camera();

import { MEDIA_TYPES, SeedClient } from './seed-client.js';
import { RestClient } from './rest.js';

export { RestClient, RestError, ENDPOINTS } from './rest.js';
export { CAMERA_ENCODINGS, MEDIA_TYPES } from './seed-client.js';

export class Webinar extends EventTarget {
  // url: the gateway (default: the page's origin); apiKey: the tenant's key;
  // createClient: how the SFU client is made (tests pass a stub transport).
  constructor({ url = globalThis.location?.origin ?? '', apiKey = '', createClient = defaultClient } = {}) {
    super();
    this.url = url;
    this.apiKey = apiKey;
    this.rest = new RestClient({ baseUrl: url, apiKey });
    this.client = null;
    this.room = null;
    this.muted = false;
    this._createClient = createClient;
    this._watchedSockets = new WeakSet();
    // publish.camera(), publish.microphone(), publish.screen(): each takes an optional {track}.
    this.publish = Object.freeze(
      Object.fromEntries(MEDIA_TYPES.map((type) => [type, (options = {}) => this._publish(type, options)])),
    );
  }

  get state() {
    return this.client?.state ?? 'new';
  }

  // Joins `room` as `name`; `token` (a bearer token) makes the socket act as that user.
  async join(room, { name = 'guest', token = this.rest.token } = {}) {
    if (this.client) throw new Error('already joined: leave() first');
    const client = this._createClient({ url: this.url, apiKey: this.apiKey, token, name });
    this.client = client;
    this._attach(client);
    try {
      await client.join(room);
    } catch (error) {
      this._error('join', error);
      this.client = null;
      client.disconnect();
      throw error;
    }
    this.room = room;
    return client.room;
  }

  // Stops sending `kind` ('camera', 'microphone' or 'screen').
  unpublish(kind) {
    this._joined().unpublish(kind);
    if (kind === 'microphone') this.muted = false;
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

  // Leaves the room and closes the socket; the object may join again.
  async leave() {
    const client = this.client;
    if (!client) return;
    try {
      await client.exit();
    } catch (error) {
      this._error('leave', error);
    } finally {
      client.disconnect();
      this.client = null;
      this.room = null;
      this.muted = false;
    }
  }

  // --- internals ---

  async _publish(type, { track = null } = {}) {
    try {
      const producer = await this._joined().publish(type, { track });
      if (type === 'microphone' && this.muted) producer.pause();
      return producer;
    } catch (error) {
      this._error(`publish ${type}`, error);
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

  _attach(client) {
    client.addEventListener('state', ({ detail }) => {
      if (detail.state === 'connected' && client.socket) this._watchSocket(client.socket);
      this._emit('connectionstate', { state: detail.state, reason: detail.reason ?? null });
    });
    client.addEventListener('consumer', ({ detail }) => {
      const { track, kind, type, consumerId, producerId } = detail;
      this._emit('trackadded', { track, kind, type, consumerId, producerId });
    });
    client.addEventListener('consumerclosed', ({ detail }) => {
      const { kind, consumerId, producerId, by } = detail;
      this._emit('trackremoved', { kind, consumerId, producerId, by });
    });
    client.addEventListener('failure', ({ detail }) => this._emit('error', { ...detail }));
  }

  // Presence comes straight from the socket: peerJoined / peerLeft {peer_id, name, role}.
  _watchSocket(socket) {
    if (this._watchedSockets.has(socket)) return;
    this._watchedSockets.add(socket);
    const peer = (payload) => ({ peerId: payload?.peer_id ?? null, name: payload?.name ?? '', role: payload?.role ?? '' });
    socket.on('peerJoined', (payload) => this._emit('peerjoined', peer(payload)));
    socket.on('peerLeft', (payload) => this._emit('peerleft', peer(payload)));
  }

  _error(where, error) {
    this._emit('error', { where, message: error?.message ?? String(error) });
  }

  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

function defaultClient(options) {
  return new SeedClient(options);
}
