// @ts-check
// REST helpers over the gateway's API (services/gateway/gateway/openapi.json). Every
// call is one row of ENDPOINTS; a unit test checks each row's method, path and
// parameters against the OpenAPI document so the helpers cannot drift from it.

/**
 * @typedef {object} CallOptions
 * @property {Record<string, string | number>} [params]  fill the path's `{name}` placeholders
 * @property {Record<string, string | number | undefined | null>} [query]
 * @property {unknown} [body]  sent as JSON
 */
/** @typedef {{limit?: number, cursor?: string}} Page */

// name -> {method, path}; `{x}` in a path is filled from the call's `params`.
export const ENDPOINTS = Object.freeze({
  register: { method: 'POST', path: '/auth/register' },
  login: { method: 'POST', path: '/auth/login' },
  me: { method: 'GET', path: '/auth/me' },
  createRoom: { method: 'POST', path: '/room/create' },
  createMeeting: { method: 'POST', path: '/meetings/create' },
  listMeetings: { method: 'GET', path: '/meetings/list/{userId}' },
  updateMeeting: { method: 'POST', path: '/meetings/update/{meetingId}' },
  createViewerLink: { method: 'POST', path: '/room/{roomId}/viewer-link' },
  startRecording: { method: 'POST', path: '/recording/start' },
  stopRecording: { method: 'POST', path: '/recording/stop' },
  listRecordings: { method: 'GET', path: '/recordings/list' },
  sendTranscript: { method: 'POST', path: '/send-transcript' },
  viewTranscript: { method: 'GET', path: '/view-transcript/{meetingId}' },
  getSummary: { method: 'GET', path: '/meeting/{meetingId}/summary' },
  generateSummary: { method: 'POST', path: '/transcription/generate-summary/{meetingId}' },
  getSpeechToken: { method: 'GET', path: '/api/get-speech-token' },
});

// A refused call: the HTTP status and the gateway's error body (`field` names what is wrong).
export class RestError extends Error {
  constructor(status, body) {
    super(body?.message ?? body?.error ?? `HTTP ${status}`);
    this.name = 'RestError';
    this.status = status;
    this.body = body;
    this.field = body?.field ?? null;
  }
}

// Fills `{name}` placeholders from `params`; a missing one is an error, not "undefined".
/** @param {string} path @param {Record<string, unknown>} [params] */
export function expandPath(path, params = {}) {
  return path.replace(/\{(\w+)\}/g, (_, name) => {
    const value = params[name];
    if (value === undefined || value === null || value === '') throw new Error(`${name} is required`);
    return encodeURIComponent(String(value));
  });
}

// The query string of the defined values in `query`, with its `?`, or ''.
/** @param {Record<string, unknown>} [query] */
function queryString(query = {}) {
  const pairs = Object.entries(query).filter(([, value]) => value !== undefined && value !== null);
  return pairs.length ? `?${new URLSearchParams(pairs.map(([k, v]) => [k, String(v)]))}` : '';
}

export class RestClient {
  // baseUrl: the gateway ('' for the page's own origin); apiKey: the tenant's x-api-key;
  // token: a bearer token (login() sets it); fetch: injectable for tests.
  /** @param {{baseUrl?: string, apiKey?: string, token?: string, fetch?: typeof fetch}} [options] */
  constructor({ baseUrl = '', apiKey = '', token = '', fetch: fetchImpl = (input, init) => globalThis.fetch(input, init) } = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.apiKey = apiKey;
    this.token = token;
    this._fetch = fetchImpl;
  }

  // One call by ENDPOINTS name: {params} fill the path, {query} the query string, {body} is sent as JSON.
  /** @param {string} name @param {CallOptions} [options] @returns {Promise<any>} */
  async call(name, { params = {}, query = {}, body } = {}) {
    const endpoint = ENDPOINTS[name];
    if (!endpoint) throw new Error(`unknown endpoint ${name}`);
    /** @type {Record<string, string>} */
    const headers = { accept: 'application/json' };
    if (this.apiKey) headers['x-api-key'] = this.apiKey;
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    /** @type {RequestInit} */
    const init = { method: endpoint.method, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const url = `${this.baseUrl}${expandPath(endpoint.path, params)}${queryString(query)}`;
    const fetchImpl = this._fetch; // called bare: a browser's fetch refuses another `this`
    const response = await fetchImpl(url, init);
    const text = await response.text();
    let answer = null;
    if (text) {
      try {
        answer = JSON.parse(text);
      } catch {
        answer = { message: text };
      }
    }
    if (!response.ok) throw new RestError(response.status, answer);
    return answer;
  }

  register(user) {
    return this.call('register', { body: user });
  }

  // Logs in ({userName, password}) and keeps the access token for the calls that follow.
  async login(credentials) {
    const answer = await this.call('login', { body: credentials });
    this.token = answer?.data?.accessToken ?? this.token;
    return answer;
  }

  me() {
    return this.call('me');
  }

  createRoom(room) {
    return this.call('createRoom', { body: room });
  }

  createMeeting(meeting) {
    return this.call('createMeeting', { body: meeting });
  }

  /** @param {string} userId @param {Page} [page] */
  listMeetings(userId, { limit, cursor } = {}) {
    return this.call('listMeetings', { params: { userId }, query: { limit, cursor } });
  }

  updateMeeting(meetingId, changes) {
    return this.call('updateMeeting', { params: { meetingId }, body: changes });
  }

  // A link viewers join `roomId` with (a room ticket; never the API key): {ticket, expiresAt, path}.
  /** @param {string} roomId @param {{expiresInSeconds?: number}} [options] */
  createViewerLink(roomId, options) {
    return this.call('createViewerLink', { params: { roomId }, body: options });
  }

  startRecording(request) {
    return this.call('startRecording', { body: request });
  }

  stopRecording(request) {
    return this.call('stopRecording', { body: request });
  }

  /** @param {Page & {roomId?: string}} [filter] */
  listRecordings({ roomId, limit, cursor } = {}) {
    return this.call('listRecordings', { query: { roomId, limit, cursor } });
  }

  sendTranscript(transcript) {
    return this.call('sendTranscript', { body: transcript });
  }

  /** @param {string} meetingId @param {Page} [page] */
  viewTranscript(meetingId, { limit, cursor } = {}) {
    return this.call('viewTranscript', { params: { meetingId }, query: { limit, cursor } });
  }

  getSummary(meetingId) {
    return this.call('getSummary', { params: { meetingId } });
  }

  generateSummary(meetingId) {
    return this.call('generateSummary', { params: { meetingId } });
  }

  // A short-lived Azure Speech token for the browser's speech SDK: {token, region} (503 when
  // the server has no Azure key).
  getSpeechToken() {
    return this.call('getSpeechToken');
  }
}
