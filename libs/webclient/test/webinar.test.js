// The Webinar object over a stubbed SFU transport: what the page hears and what is sent.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { HOST_FIRST_ATTEMPTS, Webinar } from '../src/webinar.js';

// A minimal socket: handlers by event name, and `fire` to play the server.
class StubSocket {
  constructor(id) {
    this.id = id;
    this.handlers = new Map();
  }
  on(event, handler) {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
  }
  off(event, handler) {
    this.handlers.set(event, (this.handlers.get(event) ?? []).filter((h) => h !== handler));
  }
  fire(event, payload) {
    for (const handler of this.handlers.get(event) ?? []) handler(payload);
  }
}

class StubTrack {
  constructor(kind) {
    this.kind = kind;
    this.readyState = 'live';
  }
  stop() {
    this.readyState = 'ended';
  }
}

class StubProducer {
  constructor(type, track) {
    this.id = `p-${type}`;
    this.track = track ?? new StubTrack(type === 'microphone' ? 'audio' : 'video');
    this.paused = false;
  }
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
}

// Stands in for SeedClient: same events, same producer map, no network. `peers` is the
// room's peer list the join answers with (the stub's own socket is added to it).
class StubClient extends EventTarget {
  constructor(
    options,
    { refuseJoin = null, peers = [], role = 'host', roomMissing = false, recording = null } = {},
    number = 1,
  ) {
    super();
    this.options = options;
    this.refuseJoin = refuseJoin;
    this.peers = peers;
    this.role = role;
    this.roomMissing = roomMissing; // the room is open nowhere: only a join that creates it gets in
    this.recording = recording; // what the join answers of the room's server-side recording
    this.create = null;
    this.number = number;
    this.state = 'new';
    this.socket = null;
    this.room = null;
    this.producers = new Map();
    this.sent = [];
    this.disconnected = false;
  }
  async join(roomId, { create = true } = {}) {
    this.create = create;
    this.socket = new StubSocket(`sid-${this.number}`);
    this._state('connected');
    if (this.refuseJoin) throw new Error(`join: ${this.refuseJoin}`);
    if (this.roomMissing && !create) throw new Error('join: room does not exist');
    this._state('joining');
    const me = [this.socket.id, { id: this.socket.id, name: this.options.name, role: this.role }];
    this.room = { id: roomId, peers: JSON.stringify([me, ...this.peers]) };
    this.peerId = this.socket.id;
    this.peerKey = `key-${this.number}`;
    this._state('joined');
  }
  async publish(type, { track }) {
    const producer = new StubProducer(type, track);
    this.producers.set(type, producer);
    this.sent.push(['publish', type, track]);
    return producer;
  }
  unpublish(type) {
    this.producers.get(type)?.track.stop();
    this.producers.delete(type);
    this.sent.push(['unpublish', type]);
  }
  async request(event, payload) {
    this.sent.push([event, payload]);
    return 'success';
  }
  async exit() {
    this.sent.push(['exit']);
    this._state('left');
  }
  disconnect() {
    if (this.disconnected) return;
    this.disconnected = true;
    if (this.state !== 'left') this._state('disconnected');
  }
  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
  _state(state) {
    this.state = state;
    this.emit('state', { state, reason: null });
  }
}

// A Webinar on stub clients; `behaviours[n]` shapes the n-th client made (the last repeats).
function webinarWithStub(behaviour = {}, { later = [], network = null, activeSpeaker = null } = {}) {
  const made = [];
  const behaviours = [behaviour, ...later];
  const webinar = new Webinar({
    url: 'http://gateway.test',
    apiKey: 'key-1',
    activeSpeaker,
    network,
    reconnectDelaysMs: [0],
    createClient: (options) => {
      const client = new StubClient(options, behaviours[Math.min(made.length, behaviours.length - 1)], made.length + 1);
      made.push(client);
      return client;
    },
  });
  return { webinar, made };
}

// Resolves once `target` dispatched `name` with a detail matching `predicate`.
function next(target, name, predicate = () => true) {
  return new Promise((resolve) => {
    const listener = ({ detail }) => {
      if (!predicate(detail)) return;
      target.removeEventListener(name, listener);
      resolve(detail);
    };
    target.addEventListener(name, listener);
  });
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
  assert.deepEqual(made[0].options, {
    url: 'http://gateway.test',
    apiKey: 'key-1',
    ticket: '',
    token: 'tok',
    name: 'Host',
    keepTracks: true,
  });
  assert.equal(room.id, 'weekly');
  assert.deepEqual(heard.map(([, d]) => d.state), ['connected', 'joining', 'joined']);
  assert.equal(webinar.state, 'joined');
});

test('remote tracks arriving and going away become trackadded and trackremoved, with their owner', async () => {
  const { webinar, made } = webinarWithStub({ peers: [['sid-9', { id: 'sid-9', name: 'Presenter', role: 'co-host' }]] });
  const heard = record(webinar, ['trackadded', 'trackremoved']);
  await webinar.join('weekly', { name: 'Viewer' });
  const track = { kind: 'video', id: 't-1' };
  made[0].emit('consumer', {
    consumerId: 'c-1', producerId: 'p-9', kind: 'video', track, type: 'simulcast', peerId: 'sid-9', source: 'screen',
  }); // prettier-ignore
  made[0].emit('consumerclosed', { consumerId: 'c-1', producerId: 'p-9', kind: 'video', peerId: 'sid-9', by: 'server' });
  assert.deepEqual(heard, [
    ['trackadded', {
      track, kind: 'video', source: 'screen', type: 'simulcast', consumerId: 'c-1', producerId: 'p-9',
      peerId: 'sid-9', name: 'Presenter', role: 'co-host',
    }],
    ['trackremoved', { kind: 'video', consumerId: 'c-1', producerId: 'p-9', peerId: 'sid-9', by: 'server' }],
  ]); // prettier-ignore
});

test("the room's people come from the join answer and follow joins, leaves and role changes", async () => {
  const viewer = ['sid-7', { id: 'sid-7', name: 'Watcher', role: 'viewer' }];
  const { webinar, made } = webinarWithStub({ peers: [viewer] });
  await webinar.join('weekly', { name: 'Host' });
  assert.deepEqual(webinar.me, { peerId: 'sid-1', name: 'Host', role: 'host' });
  assert.equal(webinar.viewerCount, 1);
  made[0].socket.fire('peerJoined', { peer_id: 'sid-8', name: 'Second', role: 'viewer' });
  assert.equal(webinar.viewerCount, 2);
  made[0].socket.fire('roleChanged', { peer_id: 'sid-8', name: 'Second', role: 'co-host' });
  assert.equal(webinar.viewerCount, 1);
  made[0].socket.fire('peerLeft', { peer_id: 'sid-7', name: 'Watcher', role: 'viewer' });
  assert.deepEqual([...webinar.peers.values()], [{ peerId: 'sid-8', name: 'Second', role: 'co-host' }]);
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
  const { webinar, made } = webinarWithStub({ refuseJoin: 'room does not exist' });
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
  assert.equal(webinar.state, 'left');
  await webinar.join('weekly', { name: 'Viewer' });
  assert.equal(webinar.state, 'joined');
});

test('a lost connection is rejoined by itself and the live tracks are published again', async () => {
  const { webinar, made } = webinarWithStub();
  const heard = record(webinar, ['connectionstate']);
  assert.equal(webinar.peerProof, null);
  await webinar.join('weekly', { name: 'Host' });
  assert.deepEqual(webinar.peerProof, { peer_id: 'sid-1', peer_key: 'key-1' });
  const camera = new StubTrack('video');
  await webinar.publish.camera({ track: camera });
  await webinar.publish.microphone();
  webinar.mute();
  const rejoined = next(webinar, 'connectionstate', (detail) => detail.state === 'joined' && detail.reason === 'reconnected');
  made[0].disconnect(); // the socket went
  await rejoined;
  assert.equal(made.length, 2);
  assert.deepEqual(made[1].sent.map(([what, type]) => [what, type]), [['publish', 'camera'], ['publish', 'microphone']]);
  assert.equal(made[1].sent[0][2], camera);
  assert.equal(camera.readyState, 'live');
  assert.equal(made[1].producers.get('microphone').paused, true, 'still muted after the rejoin');
  // Another socket of the page (the whiteboard's) names the new peer, with the new key.
  assert.deepEqual(webinar.peerProof, { peer_id: 'sid-2', peer_key: 'key-2' });
  assert.deepEqual(
    heard.map(([, detail]) => detail.state),
    ['connected', 'joining', 'joined', 'reconnecting', 'joined'],
  );
});

test('going offline drops the socket at once and rejoins; a failed rejoin is tried again', async () => {
  const network = new EventTarget();
  const { webinar, made } = webinarWithStub({}, { network, later: [{ refuseJoin: 'gateway unavailable' }, {}] });
  const errors = record(webinar, ['error']);
  await webinar.join('weekly', { name: 'Viewer' });
  const rejoined = next(webinar, 'connectionstate', (detail) => detail.reason === 'reconnected');
  network.dispatchEvent(new Event('offline'));
  assert.equal(made[0].disconnected, true);
  await rejoined;
  assert.equal(made.length, 3);
  assert.deepEqual(errors.map(([, detail]) => detail.where), ['reconnect']);
});

test('after its media node died the host reopens the room at once; the others wait for it a few times', async () => {
  const host = webinarWithStub({ role: 'host' });
  await host.webinar.join('weekly', { name: 'Host' });
  const hostBack = next(host.webinar, 'connectionstate', (detail) => detail.reason === 'reconnected');
  host.made[0].disconnect();
  await hostBack;
  assert.equal(host.made[1].create, true, 'the host reopens the room');

  // A viewer finds the room missing while its host has not reopened it: it does not open
  // the room itself (it would host it), until the room stays missing HOST_FIRST_ATTEMPTS times.
  const viewer = webinarWithStub({ role: 'viewer' }, { later: [{ role: 'viewer', roomMissing: true }] });
  await viewer.webinar.join('weekly', { name: 'Viewer' });
  const viewerBack = next(viewer.webinar, 'connectionstate', (detail) => detail.reason === 'reconnected');
  viewer.made[0].disconnect();
  await viewerBack;
  assert.deepEqual(
    viewer.made.slice(1).map((client) => client.create),
    [...Array(HOST_FIRST_ATTEMPTS).fill(false), true],
  );
});

test("a page learns of the room's server-side recording when it joins and as it starts and stops", async () => {
  const running = { recordingId: 'rec-1', roomId: 'weekly', status: 'recording', startTime: '2026-11-25T08:00:00Z' };
  const { webinar, made } = webinarWithStub({ recording: running });
  const heard = record(webinar, ['recording']);
  await webinar.join('weekly', { name: 'Late viewer' });
  assert.deepEqual(webinar.recording, running, 'joined while it records');
  const socket = made[0].socket;
  socket.fire('recording:started', running); // the same recording again (resumed elsewhere): no news
  socket.fire('recording:stopped', { recordingId: 'rec-0', status: 'stopped' }); // another one
  assert.equal(webinar.recording.recordingId, 'rec-1');
  socket.fire('recording:stopped', { recordingId: 'rec-1', status: 'stopped' });
  assert.equal(webinar.recording, null);
  const next = { recordingId: 'rec-2', roomId: 'weekly', status: 'recording' };
  socket.fire('recording:started', next);
  socket.fire('recording:failed', { recordingId: 'rec-2', status: 'failed', reason: 'nothing was recorded' });
  assert.deepEqual(
    heard.map(([, detail]) => detail.recording?.recordingId ?? null),
    ['rec-1', null, 'rec-2', null],
  );
});

test('a rejoin refused because the webinar ended ends the session instead of retrying', async () => {
  const { webinar, made } = webinarWithStub({}, { later: [{ refuseJoin: 'this webinar has ended' }] });
  await webinar.join('weekly', { name: 'Viewer' });
  const ended = next(webinar, 'ended');
  made[0].disconnect();
  await ended;
  assert.equal(webinar.state, 'ended');
  assert.equal(made.length, 2);
});

test('the host ending the webinar ends the session and stops the local tracks', async () => {
  const { webinar, made } = webinarWithStub();
  const heard = record(webinar, ['ended', 'connectionstate']);
  await webinar.join('weekly', { name: 'Co-host' });
  const camera = new StubTrack('video');
  await webinar.publish.camera({ track: camera });
  made[0].socket.fire('room:ended', { room_id: 'weekly', by: 'Host' });
  assert.deepEqual(heard.slice(-2), [['ended', { by: 'Host' }], ['connectionstate', { state: 'ended', reason: null }]]);
  assert.equal(camera.readyState, 'ended');
  assert.equal(made[0].disconnected, true);
  assert.equal(made.length, 1, 'no rejoin after the end');
});

test('a join refused because the webinar ended reports the ended state', async () => {
  const { webinar } = webinarWithStub({ refuseJoin: 'this webinar has ended' });
  await assert.rejects(webinar.join('weekly', { name: 'Viewer' }), /has ended/);
  assert.equal(webinar.state, 'ended');
});

test('the host muting this page pauses its microphone and says who did', async () => {
  const { webinar, made } = webinarWithStub();
  const heard = record(webinar, ['muted', 'peermuted']);
  await webinar.join('weekly', { name: 'Speaker' });
  await webinar.publish.microphone();
  made[0].socket.fire('participant:muted', { peer_id: 'sid-1', name: 'Speaker', producer_ids: ['p-microphone'], by: 'Host' });
  made[0].socket.fire('participant:muted', { peer_id: 'sid-5', name: 'Other', producer_ids: ['p-x'], by: 'Host' });
  assert.equal(made[0].producers.get('microphone').paused, true);
  assert.equal(webinar.muted, true);
  assert.deepEqual(heard, [
    ['muted', { by: 'Host' }],
    ['peermuted', { peerId: 'sid-5', name: 'Other', role: '', by: 'Host' }],
  ]);
});

test('host controls are sent as the documented socket events', async () => {
  const { webinar, made } = webinarWithStub();
  await webinar.join('weekly', { name: 'Host' });
  await webinar.muteParticipant('sid-4');
  await webinar.removeParticipant('sid-4');
  await webinar.end();
  assert.deepEqual(made[0].sent, [
    ['participant:mute', { peer_id: 'sid-4' }],
    ['participant:remove', { peer_id: 'sid-4' }],
    ['room:end', {}],
  ]);
});

test("active speaker changes from received audio are reported with the peer's name", async () => {
  const speaker = new EventTarget();
  Object.assign(speaker, { watched: [], watch(id) { this.watched.push(id); }, unwatch() {}, close() {} });
  const { webinar, made } = webinarWithStub(
    { peers: [['sid-3', { id: 'sid-3', name: 'Presenter', role: 'host' }]] },
    { activeSpeaker: speaker },
  );
  const heard = record(webinar, ['activespeaker']);
  await webinar.join('weekly', { name: 'Viewer' });
  made[0].emit('consumer', { consumerId: 'c-1', producerId: 'p-1', kind: 'audio', track: {}, peerId: 'sid-3' });
  assert.deepEqual(speaker.watched, ['sid-3']);
  speaker.dispatchEvent(new CustomEvent('change', { detail: { id: 'sid-3' } }));
  speaker.dispatchEvent(new CustomEvent('change', { detail: { id: null } }));
  assert.deepEqual(heard, [
    ['activespeaker', { peerId: 'sid-3', name: 'Presenter' }],
    ['activespeaker', { peerId: null, name: null }],
  ]);
});

test('a transport that stays disconnected is rejoined; one that recovers is left alone', async () => {
  const { webinar, made } = webinarWithStub();
  webinar._stalledTransportMs = 20;
  await webinar.join('weekly', { name: 'Viewer' });
  made[0].emit('transportstate', { which: 'recv', state: 'disconnected' });
  made[0].emit('transportstate', { which: 'recv', state: 'connected' });
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.equal(made.length, 1);
  const rejoined = next(webinar, 'connectionstate', (detail) => detail.reason === 'reconnected');
  made[0].emit('transportstate', { which: 'recv', state: 'disconnected' });
  await rejoined;
  assert.equal(made.length, 2);
});

test('features hear server events on the first socket and on every socket a rejoin opens', async () => {
  const { webinar, made } = webinarWithStub();
  const heard = [];
  const stop = webinar.onServerEvent('newMessage', (payload) => heard.push(payload.message));
  await webinar.join('weekly', { name: 'Viewer' });
  made[0].socket.fire('newMessage', { message: 'first' });
  const rejoined = next(webinar, 'connectionstate', (detail) => detail.reason === 'reconnected');
  made[0].disconnect();
  await rejoined;
  made[1].socket.fire('newMessage', { message: 'after the rejoin' });
  stop();
  assert.deepEqual(heard, ['first', 'after the rejoin']);
  assert.deepEqual(await webinar.request('sendMessage', { message: 'hello' }), 'success');
  assert.deepEqual(made[1].sent.at(-1), ['sendMessage', { message: 'hello' }]);
});
