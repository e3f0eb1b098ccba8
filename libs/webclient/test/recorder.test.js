// The Recorder over a stubbed recording socket and MediaRecorder: what is sent, in which
// order, what is sent again, and what the page hears.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Recorder, RecordingError, chooseMimeType, piecesOf } from '../src/recorder.js';

// Plays the recording service: keeps chunks by number (once), answers as the server does.
// `failNext[event]`: that many next emits of the event are answered with `{error, code}`.
class StubSocket {
  constructor() {
    this.connected = true;
    this.handlers = new Map();
    this.sent = []; // [event, payload]
    this.chunks = new Map(); // `${trackId}:${seq}` -> bytes
    this.failNext = {};
    this.silentNext = {};
    this.processAnswer = { status: 'processing', percent: 0 };
  }
  on(event, handler) {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
  }
  once(event, handler) {
    this.on(event, handler);
  }
  fire(event, payload) {
    for (const handler of this.handlers.get(event) ?? []) handler(payload);
  }
  disconnect() {
    this.connected = false;
  }
  timeout() {
    return { emit: (event, payload, ack) => this._answer(event, payload, ack) };
  }
  _answer(event, payload, ack) {
    this.sent.push([event, payload]);
    if (this.silentNext[event] > 0) {
      this.silentNext[event] -= 1;
      queueMicrotask(() => ack(new Error('operation has timed out')));
      return;
    }
    if (this.failNext[event]?.count > 0) {
      this.failNext[event].count -= 1;
      const { code, error } = this.failNext[event];
      queueMicrotask(() => ack(null, { error, code }));
      return;
    }
    queueMicrotask(() => ack(null, this._reply(event, payload)));
  }
  _reply(event, payload) {
    if (event === 'create-file') return { ...payload, status: 'recording', nextSeq: 0, bytes: 0 };
    if (event === 'stream') {
      const key = `${payload.trackId}:${payload.seq}`;
      const duplicate = this.chunks.has(key);
      this.chunks.set(key, new Uint8Array(payload.data));
      return { seq: payload.seq, duplicate, recordingBytes: 0 };
    }
    if (event === 'stop-writing') {
      const seqs = [...this.chunks.keys()].filter((key) => key.startsWith(`${payload.trackId}:`));
      return { chunks: seqs.length, complete: seqs.length === payload.lastSeq + 1, missing: [] };
    }
    if (event === 'process-recording') return { recordingId: payload.recordingId, ...this.processAnswer };
    return {};
  }
  // The bytes of a track's file as the server would put them together.
  file(trackId) {
    const parts = [...this.chunks.entries()]
      .filter(([key]) => key.startsWith(`${trackId}:`))
      .sort(([a], [b]) => Number(a.split(':')[1]) - Number(b.split(':')[1]))
      .map(([, bytes]) => bytes);
    return Buffer.concat(parts).toString();
  }
  events(name) {
    return this.sent.filter(([event]) => event === name).map(([, payload]) => payload);
  }
}

// MediaRecorder as the browser's: start(timeslice), blobs in `dataavailable`, a last blob then `stop`.
class StubMediaRecorder extends EventTarget {
  static made = [];
  static isTypeSupported(type) {
    return type === 'video/webm;codecs=vp8,opus' || type === 'audio/webm;codecs=opus';
  }
  constructor(stream, options) {
    super();
    this.stream = stream;
    this.options = options;
    this.state = 'inactive';
    this.last = 'the end';
    StubMediaRecorder.made.push(this);
  }
  start(timeslice) {
    this.timeslice = timeslice;
    this.state = 'recording';
  }
  give(text) {
    const event = new Event('dataavailable');
    event.data = new Blob([text]);
    this.dispatchEvent(event);
  }
  stop() {
    this.state = 'inactive';
    queueMicrotask(() => {
      this.give(this.last);
      this.dispatchEvent(new Event('stop'));
    });
  }
}

const cameraStream = { getVideoTracks: () => [{}], getAudioTracks: () => [{}] };
const microphoneStream = { getVideoTracks: () => [], getAudioTracks: () => [{}] };

function recorder(socket, options = {}) {
  return new Recorder({
    url: 'https://webinar.example',
    recordingId: 'rec-1',
    roomId: 'room-1',
    userName: 'Rowan Host',
    socket,
    MediaRecorder: StubMediaRecorder,
    retryDelayMs: 1,
    ...options,
  });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

test('a recording is sent as numbered pieces in order and closed with its last number', async () => {
  const socket = new StubSocket();
  const rec = recorder(socket, { maxPieceBytes: 4 });
  const heard = [];
  rec.addEventListener('chunk', (event) => heard.push(event.detail.seq));
  await rec.start(cameraStream);
  const [opened] = socket.events('create-file');
  assert.equal(opened.mimeType, 'video/webm;codecs=vp8,opus');
  assert.deepEqual([opened.recordingId, opened.trackId, opened.roomId, opened.userName], ['rec-1', 'camera', 'room-1', 'Rowan Host']);
  assert.equal(typeof opened.startTime, 'number');
  const media = StubMediaRecorder.made.at(-1);
  assert.equal(media.timeslice, 1000);
  media.give('hello world');
  media.give('and more');
  const closed = await rec.stop();
  assert.equal(socket.file('camera'), 'hello worldand morethe end');
  const [stop] = socket.events('stop-writing');
  assert.equal(stop.lastSeq, socket.events('stream').length - 1);
  assert.equal(closed.complete, true);
  assert.deepEqual(heard.sort((a, b) => a - b), [...Array(socket.events('stream').length).keys()]);
  assert.equal(rec.state, 'stopped');
});

test('a piece the server did not acknowledge is sent again, and written once', async () => {
  const socket = new StubSocket();
  socket.failNext.stream = { count: 2, code: 'unavailable', error: 'the recording service is not running' };
  socket.silentNext.stream = 1;
  const rec = recorder(socket, { window: 1 });
  await rec.start(cameraStream);
  StubMediaRecorder.made.at(-1).give('abc');
  const closed = await rec.stop();
  assert.equal(closed.complete, true);
  assert.equal(socket.file('camera'), 'abcthe end');
  const seqs = socket.events('stream').map((payload) => payload.seq);
  assert.deepEqual(seqs, [0, 0, 0, 0, 1]);
});

test('a refusal stops the upload and the recording, and stop() rejects with it', async () => {
  const socket = new StubSocket();
  socket.failNext.stream = { count: 1, code: 'too_large', error: 'this tenant\'s recordings would pass their limit' };
  const rec = recorder(socket);
  const errors = [];
  rec.addEventListener('error', (event) => errors.push(event.detail));
  await rec.start(cameraStream);
  const media = StubMediaRecorder.made.at(-1);
  media.give('abc');
  await settle();
  assert.equal(media.state, 'inactive');
  assert.equal(errors[0].code, 'too_large');
  await assert.rejects(rec.stop(), (error) => error instanceof RecordingError && error.code === 'too_large');
  assert.equal(socket.events('stop-writing').length, 0);
  assert.equal(rec.state, 'failed');
});

test('each start is one more file of the recording', async () => {
  const socket = new StubSocket();
  const rec = recorder(socket, { trackId: 'screen' });
  await rec.start(cameraStream);
  await rec.stop();
  await rec.start(microphoneStream);
  assert.equal(StubMediaRecorder.made.at(-1).options.mimeType, 'audio/webm;codecs=opus');
  await rec.stop();
  assert.deepEqual(socket.events('create-file').map((payload) => payload.trackId), ['screen', 'screen-2']);
  assert.equal(socket.file('screen-2'), 'the end');
});

test('process resolves with the link once the server pushes ready, after its progress', async () => {
  const socket = new StubSocket();
  const rec = recorder(socket);
  const percents = [];
  rec.addEventListener('progress', (event) => percents.push(event.detail.percent));
  const ready = rec.process({ width: 1280, height: 720 });
  await settle();
  assert.deepEqual(socket.events('process-recording'), [{ recordingId: 'rec-1', width: 1280, height: 720 }]);
  socket.fire('recording:progress', { recordingId: 'another', percent: 90 });
  socket.fire('recording:progress', { recordingId: 'rec-1', percent: 40 });
  socket.fire('recording:ready', {
    recordingId: 'rec-1', downloadUrl: '/recordings/rec-1/download?token=t', size: 10, duration: 3.0, width: 1280, height: 720,
  });
  const detail = await ready;
  assert.equal(detail.downloadUrl, 'https://webinar.example/recordings/rec-1/download?token=t');
  assert.equal(detail.duration, 3.0);
  assert.deepEqual(percents, [0, 40]);
  assert.equal(rec.state, 'ready');
});

test('process rejects with the reason when processing fails, and at once when refused', async () => {
  const socket = new StubSocket();
  const rec = recorder(socket);
  const failing = rec.process();
  await settle();
  socket.fire('recording:failed', { recordingId: 'rec-1', reason: 'the file of track camera holds no audio or video' });
  await assert.rejects(failing, /holds no audio or video/);
  socket.failNext['process-recording'] = { count: 1, code: 'conflict', error: 'the file of track camera is still open' };
  await assert.rejects(rec.process(), (error) => error.code === 'conflict');
});

test('process of a recording that is ready already resolves with its link', async () => {
  const socket = new StubSocket();
  socket.processAnswer = { status: 'ready', percent: 100, downloadUrl: '/recordings/rec-1/download?token=x' };
  const detail = await recorder(socket).process();
  assert.equal(detail.downloadUrl, 'https://webinar.example/recordings/rec-1/download?token=x');
});

test('the MIME type is the first one MediaRecorder supports for the stream', () => {
  assert.equal(chooseMimeType(StubMediaRecorder, true), 'video/webm;codecs=vp8,opus');
  assert.equal(chooseMimeType(StubMediaRecorder, false), 'audio/webm;codecs=opus');
  assert.equal(chooseMimeType({ isTypeSupported: () => false }, true), '');
  assert.deepEqual(piecesOf(new TextEncoder().encode('abcdefg').buffer, 3).map((b) => b.byteLength), [3, 3, 1]);
});
