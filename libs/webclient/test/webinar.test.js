// The Webinar object over a stubbed SFU transport: what the page hears and what is sent.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Webinar } from '../src/webinar.js';

// A minimal socket: handlers by event name, and `fire` to play the server.
class StubSocket {
  constructor() {
    this.handlers = new Map();
  }
  on(event, handler) {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
  }
  fire(event, payload) {
    for (const handler of this.handlers.get(event) ?? []) handler(payload);
  }
}

class StubProducer {
  constructor(type) {
    this.id = `p-${type}`;
    this.paused = false;
  }
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
}

// Stands in for SeedClient: same events, same producer map, no network.
class StubClient extends EventTarget {
  constructor(options, { refuseJoin = false } = {}) {
    super();
    this.options = options;
    this.refuseJoin = refuseJoin;
    this.state = 'new';
    this.socket = null;
    this.room = null;
    this.producers = new Map();
    this.sent = [];
    this.disconnected = false;
  }
  async join(roomId) {
    this.socket = new StubSocket();
    this._state('connected');
    if (this.refuseJoin) throw new Error('join: room does not exist');
    this._state('joining');
    this.room = { room_id: roomId };
    this._state('joined');
  }
  async publish(type, { track }) {
    const producer = new StubProducer(type);
    this.producers.set(type, producer);
    this.sent.push(['publish', type, track]);
    return producer;
  }
  unpublish(type) {
    this.producers.delete(type);
    this.sent.push(['unpublish', type]);
  }
  async exit() {
    this.sent.push(['exit']);
    this._state('left');
  }
  disconnect() {
    this.disconnected = true;
  }
  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
  _state(state) {
    this.state = state;
    this.emit('state', { state, reason: null });
  }
}

function webinarWithStub(behaviour = {}) {
  const made = [];
  const webinar = new Webinar({
    url: 'http://gateway.test',
    apiKey: 'key-1',
    createClient: (options) => {
      const client = new StubClient(options, behaviour);
      made.push(client);
      return client;
    },
  });
  return { webinar, made };
}

function record(target, names) {
  const heard = [];
  for (const name of names) target.addEventListener(name, ({ detail }) => heard.push([name, detail]));
  return heard;
}

test('join passes name, token and key to the transport and reports each connection state', async () => {
  const { webinar, made } = webinarWithStub();
  const heard = record(webinar, ['connectionstate']);
  const room = await webinar.join('weekly', { name: 'Host', token: 'tok' });
  assert.deepEqual(made[0].options, { url: 'http://gateway.test', apiKey: 'key-1', token: 'tok', name: 'Host' });
  assert.deepEqual(room, { room_id: 'weekly' });
  assert.deepEqual(heard.map(([, d]) => d.state), ['connected', 'joining', 'joined']);
  assert.equal(webinar.state, 'joined');
});

test('remote tracks arriving and going away become trackadded and trackremoved', async () => {
  const { webinar, made } = webinarWithStub();
  const heard = record(webinar, ['trackadded', 'trackremoved']);
  await webinar.join('weekly', { name: 'Viewer' });
  const track = { kind: 'video', id: 't-1' };
  made[0].emit('consumer', { consumerId: 'c-1', producerId: 'p-9', kind: 'video', track, type: 'camera' });
  made[0].emit('consumerclosed', { consumerId: 'c-1', producerId: 'p-9', kind: 'video', by: 'server' });
  assert.deepEqual(heard, [
    ['trackadded', { track, kind: 'video', type: 'camera', consumerId: 'c-1', producerId: 'p-9' }],
    ['trackremoved', { kind: 'video', consumerId: 'c-1', producerId: 'p-9', by: 'server' }],
  ]);
});

test('peers joining and leaving the room become peerjoined and peerleft', async () => {
  const { webinar, made } = webinarWithStub();
  const heard = record(webinar, ['peerjoined', 'peerleft']);
  await webinar.join('weekly', { name: 'Host' });
  made[0].socket.fire('peerJoined', { peer_id: 's-2', name: 'Viewer', role: 'viewer' });
  made[0].socket.fire('peerLeft', { peer_id: 's-2', name: 'Viewer', role: 'viewer' });
  assert.deepEqual(heard, [
    ['peerjoined', { peerId: 's-2', name: 'Viewer', role: 'viewer' }],
    ['peerleft', { peerId: 's-2', name: 'Viewer', role: 'viewer' }],
  ]);
});

test('publish sends camera, microphone and screen; unpublish stops one', async () => {
  const { webinar, made } = webinarWithStub();
  await webinar.join('weekly', { name: 'Host' });
  const camera = { kind: 'video' };
  await webinar.publish.camera({ track: camera });
  await webinar.publish.microphone();
  await webinar.publish.screen();
  webinar.unpublish('screen');
  assert.deepEqual(made[0].sent, [
    ['publish', 'camera', camera],
    ['publish', 'microphone', null],
    ['publish', 'screen', null],
    ['unpublish', 'screen'],
  ]);
});

test('mute pauses the microphone, unmute resumes it, and a microphone published while muted starts paused', async () => {
  const { webinar, made } = webinarWithStub();
  await webinar.join('weekly', { name: 'Host' });
  webinar.mute();
  const microphone = await webinar.publish.microphone();
  assert.equal(microphone.paused, true);
  webinar.unmute();
  assert.equal(made[0].producers.get('microphone').paused, false);
  assert.equal(webinar.muted, false);
});

test('publishing before joining is refused and reported as an error event', async () => {
  const { webinar } = webinarWithStub();
  const heard = record(webinar, ['error']);
  await assert.rejects(webinar.publish.camera(), /join a room first/);
  assert.deepEqual(heard, [['error', { where: 'publish camera', message: 'join a room first' }]]);
});

test('a refused join rejects, reports an error, closes the socket and allows another join', async () => {
  const { webinar, made } = webinarWithStub({ refuseJoin: true });
  const heard = record(webinar, ['error']);
  await assert.rejects(webinar.join('missing', { name: 'Viewer' }), /room does not exist/);
  assert.equal(made[0].disconnected, true);
  assert.equal(heard[0][1].where, 'join');
  await assert.rejects(webinar.join('missing', { name: 'Viewer' }), /room does not exist/);
  assert.equal(made.length, 2);
});

test('transport failures become error events', async () => {
  const { webinar, made } = webinarWithStub();
  const heard = record(webinar, ['error']);
  await webinar.join('weekly', { name: 'Viewer' });
  made[0].emit('failure', { where: 'consume', message: 'no acknowledgement in time' });
  assert.deepEqual(heard, [['error', { where: 'consume', message: 'no acknowledgement in time' }]]);
});

test('leave exits the room, closes the socket and reports the left state', async () => {
  const { webinar, made } = webinarWithStub();
  const heard = record(webinar, ['connectionstate']);
  await webinar.join('weekly', { name: 'Viewer' });
  await webinar.leave();
  assert.deepEqual(made[0].sent, [['exit']]);
  assert.equal(made[0].disconnected, true);
  assert.equal(heard.at(-1)[1].state, 'left');
  assert.equal(webinar.state, 'new');
});
