// The REST helpers against the gateway's OpenAPI document: every helper's method,
// path and parameters must be ones the document describes.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { ENDPOINTS, RestClient, RestError, expandPath } from '../src/rest.js';

const OPENAPI = JSON.parse(
  readFileSync(new URL('../../../services/gateway/gateway/openapi.json', import.meta.url), 'utf8'),
);

function operation(method, path) {
  return OPENAPI.paths[path]?.[method.toLowerCase()];
}

function parameters(op, where) {
  return (op.parameters ?? []).filter((p) => p.in === where).map((p) => p.name);
}

// A fetch that records each request and answers `answer` with `status`.
function recordingFetch(status = 200, answer = { success: true }) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url: new URL(url, 'http://gateway.test'), init });
    return { ok: status < 400, status, text: async () => JSON.stringify(answer) };
  };
  return { calls, fetch };
}

test('every endpoint is an operation of the OpenAPI document with the same path parameters', () => {
  for (const [name, { method, path }] of Object.entries(ENDPOINTS)) {
    const op = operation(method, path);
    assert.ok(op, `${name}: ${method} ${path} is not in openapi.json`);
    const placeholders = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    assert.deepEqual(placeholders, parameters(op, 'path').sort(), `${name}: path parameters`);
  }
});

test('the helpers cover register, login, rooms, meetings, recordings and transcripts', () => {
  const wanted = ['/auth/register', '/auth/login', '/room/create', '/meetings/create', '/recordings/list',
    '/view-transcript/{meetingId}'];
  const covered = Object.values(ENDPOINTS).map((e) => e.path);
  for (const path of wanted) assert.ok(covered.includes(path), `${path} has no helper`);
});

// Each helper called with sample arguments; what it sends must match its operation.
const SAMPLE_CALLS = {
  register: (c) => c.register({ userName: 'a@example.test' }),
  login: (c) => c.login({ userName: 'a@example.test', password: 'pw' }),
  me: (c) => c.me(),
  createRoom: (c) => c.createRoom({ roomName: 'r' }),
  createMeeting: (c) => c.createMeeting({ title: 't' }),
  listMeetings: (c) => c.listMeetings('u-1', { limit: 5, cursor: 'c' }),
  updateMeeting: (c) => c.updateMeeting('m-1', { title: 't' }),
  startRecording: (c) => c.startRecording({ roomId: 'r' }),
  stopRecording: (c) => c.stopRecording({ roomId: 'r' }),
  listRecordings: (c) => c.listRecordings({ roomId: 'r', limit: 5, cursor: 'c' }),
  sendTranscript: (c) => c.sendTranscript({ meetingId: 'm-1' }),
  viewTranscript: (c) => c.viewTranscript('m-1', { limit: 5, cursor: 'c' }),
  getSummary: (c) => c.getSummary('m-1'),
  generateSummary: (c) => c.generateSummary('m-1'),
  createViewerLink: (c) => c.createViewerLink('r-1'),
  getSpeechToken: (c) => c.getSpeechToken(),
};

test('each helper sends its operation\'s method, path, query parameters and body', async () => {
  assert.deepEqual(Object.keys(SAMPLE_CALLS).sort(), Object.keys(ENDPOINTS).sort());
  for (const [name, invoke] of Object.entries(SAMPLE_CALLS)) {
    const { calls, fetch } = recordingFetch();
    await invoke(new RestClient({ apiKey: 'key-1', token: 'tok', fetch }));
    const [{ url, init }] = calls;
    const { method, path } = ENDPOINTS[name];
    const op = operation(method, path);
    assert.equal(init.method, method, name);
    const pattern = new RegExp(`^${path.replace(/\{\w+\}/g, '[^/]+')}$`);
    assert.match(url.pathname, pattern, name);
    const allowed = parameters(op, 'query');
    for (const key of url.searchParams.keys()) assert.ok(allowed.includes(key), `${name}: query ${key}`);
    assert.equal(init.body !== undefined, op.requestBody?.required === true, `${name}: body`);
    assert.equal(init.headers['x-api-key'], 'key-1');
    assert.equal(init.headers.authorization, 'Bearer tok');
  }
});

test('login keeps the access token for the calls that follow', async () => {
  const { calls, fetch } = recordingFetch(200, { success: true, data: { accessToken: 'fresh', expiresIn: 60 } });
  const client = new RestClient({ apiKey: 'k', fetch });
  await client.login({ userName: 'a@example.test', password: 'pw' });
  await client.me();
  assert.equal(calls[0].init.headers.authorization, undefined);
  assert.equal(calls[1].init.headers.authorization, 'Bearer fresh');
});

test('a refused call rejects with the status and the field the gateway names', async () => {
  const { fetch } = recordingFetch(400, { success: false, message: 'title is required', field: 'title' });
  const client = new RestClient({ apiKey: 'k', fetch });
  await assert.rejects(client.createMeeting({}), (error) => {
    assert.ok(error instanceof RestError);
    assert.equal(error.status, 400);
    assert.equal(error.field, 'title');
    assert.equal(error.message, 'title is required');
    return true;
  });
});

test('path parameters are encoded and a missing one is refused before any request', () => {
  assert.equal(expandPath('/meetings/list/{userId}', { userId: 'a/b c' }), '/meetings/list/a%2Fb%20c');
  assert.throws(() => expandPath('/meetings/list/{userId}', {}), /userId is required/);
});
