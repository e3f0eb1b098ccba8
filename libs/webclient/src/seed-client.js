// @ts-check
// A browser client of the seed's SFU socket: the event flow of the mediasoup
// video-rooms sample (createRoom, join, device load, two transports, produce,
// consume) on unmodified mediasoup-client and socket.io-client. No DOM here: a
// page (demo.js) renders what the client reports through its events.

import { Device, version as mediasoupClientVersion } from 'mediasoup-client';
import { io } from 'socket.io-client';

export { Device, mediasoupClientVersion };

// How long one acknowledgement may take before the request fails.
const ACK_TIMEOUT_MS = 10000;

// The three things a peer publishes, by the `appData.type` the seed's clients send.
export const MEDIA_TYPES = Object.freeze(['camera', 'microphone', 'screen']);

// The camera as the seed's clients send it: three simulcast layers.
export const CAMERA_ENCODINGS = Object.freeze([
  { rid: 'r0', maxBitrate: 100000, scalabilityMode: 'S1T3' },
  { rid: 'r1', maxBitrate: 300000, scalabilityMode: 'S1T3' },
  { rid: 'r2', maxBitrate: 900000, scalabilityMode: 'S1T3' },
]);
export const CAMERA_CODEC_OPTIONS = Object.freeze({ videoGoogleStartBitrate: 1000 });

// The error a request rejects with: the server's `{error}` text, or a timeout.
export class SfuRequestError extends Error {
  constructor(event, message) {
    super(`${event}: ${message}`);
    this.name = 'SfuRequestError';
    this.event = event;
    this.reason = message;
  }
}

// Events dispatched (each a CustomEvent whose `detail` is given):
//   'state'          {state}                      connection/room state changed
//   'producer'       {type, producerId, track}    a local track is being sent
//   'producerclosed' {type, producerId}
//   'consumer'       {consumerId, producerId, kind, track, type, peerId, source}
//                    type: the consumer's ('simple' | 'simulcast'); peerId: the producing peer's socket id;
//                    source: what it produced ('camera' | 'microphone' | 'screen'), when the server says
//   'consumerclosed' {consumerId, producerId, kind, peerId, by}  by: 'server' | 'transport' | 'track'
//   'transportstate' {which, state}              which: 'send' | 'recv'; mediasoup-client's connection state
//   'failure'        {where, message}             something went wrong outside a request the caller awaits
export class SeedClient extends EventTarget {
  // ticket: a viewer link's room ticket, instead of (or with) the API key; keepTracks: closing
  // (exit, a lost socket) leaves the local tracks running, for a caller that republishes them.
  /**
   * @param {{url?: string, apiKey?: string, token?: string, ticket?: string, name?: string,
   *   sendResume?: boolean, socketPath?: string, keepTracks?: boolean}} [options]
   */
  constructor({
    url,
    apiKey = '',
    token = '',
    ticket = '',
    name = 'guest',
    sendResume = false,
    socketPath = '/socket.io',
    keepTracks = false,
  } = {}) {
    super();
    this.url = url;
    this.apiKey = apiKey;
    this.token = token;
    this.ticket = ticket;
    this.keepTracks = keepTracks;
    this.name = name;
    this.sendResume = sendResume;
    this.socketPath = socketPath;
    this.socket = null;
    this.device = null;
    this.sendTransport = null;
    this.recvTransport = null;
    this.roomId = null;
    this.room = null;
    this.chatHistory = [];
    this.peerId = null; // this socket's peer in the room, and the key its join answered
    this.peerKey = null;
    this.recording = null;
    this.producers = new Map(); // type -> Producer
    this.consumers = new Map(); // consumer id -> Consumer
    this.closedConsumers = []; // {consumerId, producerId, kind, by}
    this.failures = []; // {where, message}
    this.resumesSent = 0;
    this._consuming = new Set(); // producer ids being consumed
    this._producerOwners = new Map(); // producer id -> {peerId, appData}, from newProducers
    this.state = 'new'; // new | connecting | connected | joining | joined | left | disconnected
  }

  // --- the socket ---

  // Opens the Socket.IO connection with the key and token in `auth`, as a browser must.
  connect() {
    if (this.socket?.connected) return Promise.resolve();
    if (this.socket) {
      this.socket.removeAllListeners();
      this.socket.close();
    }
    this._setState('connecting');
    this.socket = io(this.url, {
      path: this.socketPath,
      auth: Object.fromEntries(
        Object.entries({ apiKey: this.apiKey, token: this.token, ticket: this.ticket }).filter(([, value]) => value),
      ),
      reconnection: false,
    });
    this.socket.on('newProducers', (list) => this._onNewProducers(list));
    this.socket.on('consumerClosed', (payload) => this._onConsumerClosed(payload));
    this.socket.on('disconnect', (reason) => {
      this._closeTransports();
      this._setState('disconnected', reason);
    });
    return /** @type {Promise<void>} */ (
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('socket did not connect in time')), ACK_TIMEOUT_MS);
        this.socket.once('connect', () => {
          clearTimeout(timer);
          this._setState('connected');
          resolve();
        });
        this.socket.once('connect_error', (error) => {
          clearTimeout(timer);
          this._setState('disconnected', error.message);
          reject(new Error(`socket refused: ${error.message}`));
        });
      })
    );
  }

  // One request: emit with an acknowledgement; `{error}` or no answer in time rejects.
  request(event, payload = {}) {
    return new Promise((resolve, reject) => {
      this.socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (timedOut, answer) => {
        if (timedOut) reject(new SfuRequestError(event, 'no acknowledgement in time'));
        else if (answer && typeof answer === 'object' && answer.error) reject(new SfuRequestError(event, answer.error));
        else resolve(answer);
      });
    });
  }

  // --- the room ---

  // createRoom ('already exists' is normal; skipped with {create: false}: join a room only
  // if someone opened it), join, load the device, open both transports, then ask for the
  // room's producers.
  async join(roomId, { create = true } = {}) {
    await this.connect();
    this._setState('joining');
    this.roomId = roomId;
    if (create) await this.request('createRoom', { room_id: roomId });
    const joined = await this.request('join', { room_id: roomId, name: this.name });
    this.room = joined?.room ?? null;
    this.chatHistory = joined?.chatHistory ?? [];
    this.plan = joined?.plan ?? null; // the tenant's plan: 'essential' | 'professional'
    this.peerId = this.socket.id;
    this.peerKey = joined?.peerKey ?? null;
    this.recording = joined?.recording ?? null; // the room's server-side recording, if one runs
    const routerRtpCapabilities = await this.request('getRouterRtpCapabilities', {});
    this.device = await Device.factory();
    await this.device.load({ routerRtpCapabilities });
    await this._openSendTransport();
    await this._openRecvTransport();
    this._setState('joined');
    this.socket.emit('getProducers');
  }

  roomInfo() {
    return this.request('getMyRoomInfo', {});
  }

  // exitRoom, then close everything local; the socket stays open for another join.
  async exit() {
    try {
      return await this.request('exitRoom', {});
    } finally {
      this._closeTransports();
      this._setState('left');
    }
  }

  disconnect() {
    this.socket?.disconnect();
  }

  // --- publishing ---

  // Sends `track` (or one from the camera, microphone or screen) as `type`.
  async publish(type, { track = null } = {}) {
    if (!MEDIA_TYPES.includes(type)) throw new Error(`unknown media type ${type}`);
    if (this.producers.has(type)) throw new Error(`already publishing ${type}`);
    if (!this.sendTransport) throw new Error('join a room first');
    const kind = type === 'microphone' ? 'audio' : 'video';
    if (!this.device.canProduce(kind)) throw new Error(`this browser cannot send ${kind} to this router`);
    const sent = track ?? (await captureTrack(type));
    const options = { track: sent, appData: { type }, stopTracks: !this.keepTracks };
    if (type === 'camera') {
      options.encodings = CAMERA_ENCODINGS.map((encoding) => ({ ...encoding }));
      options.codecOptions = { ...CAMERA_CODEC_OPTIONS };
    }
    const producer = await this.sendTransport.produce(options);
    this.producers.set(type, producer);
    producer.on('trackended', () => this.unpublish(type));
    producer.on('transportclose', () => this._forgetProducer(type, producer));
    this._emit('producer', { type, producerId: producer.id, track: producer.track });
    return producer;
  }

  // Tells the server (`producerClosed`, no ack) and closes the producer here.
  unpublish(type) {
    const producer = this.producers.get(type);
    if (!producer) return;
    this.socket?.emit('producerClosed', { producer_id: producer.id });
    producer.track?.stop();
    producer.close();
    this._forgetProducer(type, producer);
  }

  // --- receiving ---

  async consume(producerId) {
    const answer = await this.request('consume', {
      consumerTransportId: this.recvTransport.id,
      producerId,
      rtpCapabilities: this.device.rtpCapabilities,
    });
    const owner = this._producerOwners.get(answer.producerId);
    const peerId = answer.peerId ?? owner?.peerId ?? null;
    const source = answer.appData?.type ?? owner?.appData?.type ?? null;
    const consumer = await this.recvTransport.consume({
      id: answer.id,
      producerId: answer.producerId,
      kind: answer.kind,
      rtpParameters: answer.rtpParameters,
      appData: { type: answer.type, producerPaused: answer.producerPaused, peerId, source },
    });
    this.consumers.set(consumer.id, consumer);
    consumer.on('transportclose', () => this._forgetConsumer(consumer, 'transport'));
    consumer.on('trackended', () => this._forgetConsumer(consumer, 'track'));
    // The seed's clients never resume: consumers must flow without it.
    if (this.sendResume) {
      await this.request('resume', { consumer_id: consumer.id });
      this.resumesSent += 1;
    }
    this._emit('consumer', {
      consumerId: consumer.id,
      producerId: consumer.producerId,
      kind: consumer.kind,
      track: consumer.track,
      type: answer.type,
      peerId,
      source,
    });
    return consumer;
  }

  // What this page receives, per consumer, from the receivers' inbound-rtp stats.
  async inboundStats() {
    const rows = [];
    for (const consumer of this.consumers.values()) {
      const report = await consumer.getStats();
      for (const stat of report.values()) {
        if (stat.type !== 'inbound-rtp') continue;
        rows.push({
          consumerId: consumer.id,
          producerId: consumer.producerId,
          kind: consumer.kind,
          packetsReceived: stat.packetsReceived ?? 0,
          packetsLost: stat.packetsLost ?? 0,
          bytesReceived: stat.bytesReceived ?? 0,
          framesDecoded: stat.framesDecoded ?? 0,
          frameWidth: stat.frameWidth ?? 0,
          frameHeight: stat.frameHeight ?? 0,
        });
      }
    }
    return rows;
  }

  // What this page sends, per producer and layer (rid), from outbound-rtp stats.
  async outboundStats() {
    const rows = [];
    for (const [type, producer] of this.producers) {
      const report = await producer.getStats();
      for (const stat of report.values()) {
        if (stat.type !== 'outbound-rtp') continue;
        rows.push({
          type,
          producerId: producer.id,
          rid: stat.rid ?? null,
          packetsSent: stat.packetsSent ?? 0,
          framesEncoded: stat.framesEncoded ?? 0,
          frameWidth: stat.frameWidth ?? 0,
        });
      }
    }
    return rows;
  }

  // A plain snapshot for tests and the page (no live objects).
  snapshot() {
    return {
      state: this.state,
      roomId: this.roomId,
      socketId: this.socket?.id ?? null,
      handlerName: this.device?.handlerName ?? null,
      producers: Object.fromEntries([...this.producers].map(([type, p]) => [type, p.id])),
      consumers: [...this.consumers.values()].map((c) => ({
        consumerId: c.id,
        producerId: c.producerId,
        kind: c.kind,
        type: c.appData.type,
        trackState: c.track.readyState,
      })),
      closedConsumers: [...this.closedConsumers],
      failures: [...this.failures],
      resumesSent: this.resumesSent,
    };
  }

  // --- internals ---

  async _openSendTransport() {
    // Even a viewer opens a send transport, as the seed's clients do.
    const options = await this.request('createWebRtcTransport', {
      forceTcp: false,
      rtpCapabilities: this.device.rtpCapabilities,
    });
    const transport = this.device.createSendTransport(transportOptions(options));
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.request('connectTransport', { transport_id: transport.id, dtlsParameters }).then(callback, errback);
    });
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      this.request('produce', { producerTransportId: transport.id, kind, rtpParameters, appData })
        .then((answer) => callback({ id: answer.producer_id }), errback);
    });
    transport.on('connectionstatechange', (state) => this._onTransportState('send', transport, state));
    this.sendTransport = transport;
  }

  async _openRecvTransport() {
    const options = await this.request('createWebRtcTransport', { forceTcp: false });
    const transport = this.device.createRecvTransport(transportOptions(options));
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.request('connectTransport', { transport_id: transport.id, dtlsParameters }).then(callback, errback);
    });
    transport.on('connectionstatechange', (state) => this._onTransportState('recv', transport, state));
    this.recvTransport = transport;
  }

  _onTransportState(which, transport, state) {
    this._emit('transportstate', { which, state });
    if (state === 'failed') {
      this._fail(`${which} transport`, 'ICE or DTLS failed');
      transport.close();
    }
  }

  async _onNewProducers(list) {
    // Before the receive transport exists there is nothing to consume on; the
    // getProducers sent once it does lists every producer of the room.
    if (!this.recvTransport) return;
    // Consumed one after another, as the seed's clients do; a producer listed twice
    // (a push crossing the getProducers answer) is consumed once.
    const items = Array.isArray(list) ? list : [];
    for (const { producer_id: producerId, producer_socket_id: peerId, appData } of items) {
      this._producerOwners.set(producerId, { peerId: peerId ?? null, appData: appData ?? {} });
    }
    for (const { producer_id: producerId } of items) {
      if (this._consuming.has(producerId) || this._isOwnOrConsumed(producerId)) continue;
      this._consuming.add(producerId);
      try {
        await this.consume(producerId);
      } catch (error) {
        this._fail('consume', error instanceof Error ? error.message : String(error));
      } finally {
        this._consuming.delete(producerId);
      }
    }
  }

  _isOwnOrConsumed(producerId) {
    return (
      [...this.producers.values()].some((p) => p.id === producerId) ||
      [...this.consumers.values()].some((c) => c.producerId === producerId)
    );
  }

  _onConsumerClosed(payload) {
    const consumer = this.consumers.get(payload?.consumer_id);
    if (!consumer) return;
    consumer.close();
    this._forgetConsumer(consumer, 'server');
  }

  _forgetConsumer(consumer, by) {
    if (!this.consumers.delete(consumer.id)) return;
    const closed = {
      consumerId: consumer.id,
      producerId: consumer.producerId,
      kind: consumer.kind,
      peerId: consumer.appData.peerId ?? null,
      by,
    };
    this.closedConsumers.push(closed);
    this._emit('consumerclosed', closed);
  }

  _forgetProducer(type, producer) {
    if (this.producers.get(type) !== producer) return;
    this.producers.delete(type);
    this._emit('producerclosed', { type, producerId: producer.id });
  }

  _closeTransports() {
    for (const consumer of [...this.consumers.values()]) {
      consumer.close();
      this._forgetConsumer(consumer, 'transport');
    }
    for (const [type, producer] of [...this.producers]) {
      if (!this.keepTracks) producer.track?.stop();
      producer.close();
      this._forgetProducer(type, producer);
    }
    this.sendTransport?.close();
    this.recvTransport?.close();
    this.sendTransport = null;
    this.recvTransport = null;
  }

  _fail(where, message) {
    this.failures.push({ where, message });
    this._emit('failure', { where, message });
  }

  _setState(state, reason = null) {
    this.state = state;
    this._emit('state', { state, reason });
  }

  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

// The server's answer to createWebRtcTransport as mediasoup-client's transport options.
function transportOptions({ id, iceParameters, iceCandidates, dtlsParameters, sctpParameters }) {
  return { id, iceParameters, iceCandidates, dtlsParameters, sctpParameters };
}

async function captureTrack(type) {
  if (type === 'screen') {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    return stream.getVideoTracks()[0];
  }
  if (type === 'microphone') {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    return stream.getAudioTracks()[0];
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  return stream.getVideoTracks()[0];
}
