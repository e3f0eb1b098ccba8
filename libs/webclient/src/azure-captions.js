// @ts-check
// Live captions of this page's microphone, made in the browser by Azure Speech, as the
// seed's clients make them: a short-lived token from the gateway (GET
// /api/get-speech-token: {token, region}; the subscription key stays on the server),
// continuous recognition of the microphone's MediaStream with Microsoft's Speech SDK, and
// each final line stored in the meeting's transcript (POST /send-transcript). The
// captions are events shaped like the server's `caption` (docs/realtime-events.md), so
// the captions panel shows them as it shows the server's: `panel.show(detail)`.
//
// The server path (docs/captions.md) needs none of this: it captions every microphone of
// a meeting with `transcriptEnabled`. This is for tenants who run Azure in the browser.
//
// Events (each a CustomEvent; `detail` as shown):
//   'caption'  {peer_id, user_id, name, text, final, timestamp, utterance_id, meeting_id, producer_id}
//              partial lines (`final` false) of an utterance share its `utterance_id`; the
//              final line ends it (`text` "": it had no words, drop its partial)
//   'sent'     {line}              a final line stored: the answer of POST /send-transcript
//   'token'    {region, expiresAt}  a speech token fetched (expiresAt: ms since the epoch, or null)
//   'error'    {where, message}    where: 'token' | 'recognition' (the service refused or went:
//                                  captions stop) | 'send-transcript'
//
//   const captions = new AzureCaptions(webinar, { meetingId });
//   captions.addEventListener('caption', ({ detail }) => captionsPanel.show(detail));
//   await captions.start();   // the published microphone; or start(stream | track)
//   await captions.stop();

import * as SpeechSDK from 'microsoft-cognitiveservices-speech-sdk';

// Azure's tokens live 10 minutes; one with no readable expiry is assumed this old at most
// (the gateway hands one token out for up to 9 of its 10 minutes).
const ASSUMED_TOKEN_LIFE_MS = 60_000;
// A token is replaced this long before it expires (the gateway fetches a new one from
// Azure once its own is within a minute of expiring, so a margin under that gets a new one).
const REFRESH_MARGIN_MS = 30_000;
const MIN_REFRESH_MS = 5_000;
const TICKS_PER_MS = 10_000; // the Speech SDK counts audio offsets in 100 ns ticks

/**
 * @typedef {object} Caption  the server's `caption` event (docs/realtime-events.md)
 * @property {string} peer_id       this page's socket id in the room ('' before joining)
 * @property {string | null} user_id
 * @property {string} name
 * @property {string} text
 * @property {boolean} final
 * @property {number} timestamp     when the utterance began, ms since the epoch
 * @property {string} utterance_id
 * @property {string} meeting_id
 * @property {string} producer_id   the microphone producer's id ('' when not publishing)
 */

/**
 * @typedef {object} AzureCaptionsOptions
 * @property {string} meetingId  the meeting whose transcript the final lines join
 * @property {string} [userName]  the speaker's name (default: the name this page joined with)
 * @property {string | null} [userId]
 * @property {string} [language]  what Azure listens for (default en-US)
 * @property {string} [host]      the Speech service's host instead of the token's region's
 *                                (e.g. ws://127.0.0.1:5000: a container, or a stand-in)
 * @property {string} [endpoint]  or the full recognition endpoint URL
 * @property {boolean} [store]    send final lines to POST /send-transcript (default true)
 * @property {number} [refreshMarginMs]  how long before its expiry a token is replaced
 * @property {any} [sdk]          the Speech SDK (tests pass a stand-in)
 */

/**
 * When an Azure token expires (its JWT `exp`), in ms since the epoch; null if unreadable.
 * @param {string} token
 * @returns {number | null}
 */
export function tokenExpiry(token) {
  const payload = String(token).split('.')[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='));
    const exp = JSON.parse(json).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * How long to keep a token before fetching the next one.
 * @param {number | null} expiresAt  ms since the epoch, or null when unknown
 * @param {number} now
 * @param {number} [margin]
 */
export function refreshDelayMs(expiresAt, now, margin = REFRESH_MARGIN_MS) {
  if (expiresAt === null) return ASSUMED_TOKEN_LIFE_MS;
  return Math.max(expiresAt - margin - now, MIN_REFRESH_MS);
}

export class AzureCaptions extends EventTarget {
  /**
   * @param {{rest: import('./rest.js').RestClient, me?: {peerId: string, name: string} | null,
   *   muted?: boolean, client?: any}} webinar  the session (a Webinar) whose microphone is captioned
   * @param {AzureCaptionsOptions} options
   */
  constructor(webinar, {
    meetingId,
    userName = '',
    userId = null,
    language = 'en-US',
    host = '',
    endpoint = '',
    store = true,
    refreshMarginMs = REFRESH_MARGIN_MS,
    sdk = SpeechSDK,
  }) {
    super();
    if (!meetingId) throw new Error('meetingId is required: final lines join its transcript');
    this.webinar = webinar;
    this.meetingId = meetingId;
    this.userName = userName;
    this.userId = userId;
    this.language = language;
    this.host = host;
    this.endpoint = endpoint;
    this.store = store;
    this.refreshMarginMs = refreshMarginMs;
    this.sdk = sdk;
    /** @type {any} the SpeechRecognizer while running */
    this.recognizer = null;
    /** @type {{token: string, region: string, expiresAt: number | null} | null} */
    this.token = null;
    this._startedAt = 0;
    this._session = Math.random().toString(36).slice(2, 8);
    this._utterances = 0;
    /** @type {{id: string, timestamp: number} | null} the utterance being spoken */
    this._open = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._refreshTimer = null;
    this._starting = false;
  }

  get running() {
    return this.recognizer !== null;
  }

  /**
   * Starts captioning `source` (a MediaStream or an audio MediaStreamTrack; default: the
   * microphone this page publishes). Resolves once recognition runs; rejects when no token
   * can be had (the server has no Azure key: 503) or the recognizer refuses to start.
   * @param {MediaStream | MediaStreamTrack | null} [source]
   */
  async start(source = null) {
    if (this.recognizer || this._starting) throw new Error('captions are running already');
    const stream = this._stream(source);
    this._starting = true;
    let token;
    try {
      token = await this._fetchToken();
    } finally {
      this._starting = false;
    }
    const { SpeechConfig, AudioConfig, SpeechRecognizer } = this.sdk;
    let config;
    if (this.endpoint) config = SpeechConfig.fromEndpoint(new URL(this.endpoint));
    else if (this.host) config = SpeechConfig.fromHost(new URL(this.host));
    else config = SpeechConfig.fromAuthorizationToken(token.token, token.region);
    config.authorizationToken = token.token;
    config.speechRecognitionLanguage = this.language;
    const recognizer = new SpeechRecognizer(config, AudioConfig.fromStreamInput(stream));
    recognizer.recognizing = (_, event) => this._heard(event.result, false);
    recognizer.recognized = (_, event) => this._heard(event.result, true);
    recognizer.canceled = (_, event) => {
      if (event.reason !== this.sdk.CancellationReason.Error) return; // the audio ended
      const code = this.sdk.CancellationErrorCode?.[event.errorCode] ?? event.errorCode;
      this._error('recognition', `${event.errorDetails} (${code})`);
      if (this.recognizer === recognizer) this.stop().catch(() => {}); // the SDK gave up: so do the captions
    };
    this.recognizer = recognizer;
    this._startedAt = Date.now();
    try {
      await new Promise((resolve, reject) => recognizer.startContinuousRecognitionAsync(resolve, reject));
    } catch (error) {
      this.recognizer = null;
      recognizer.close();
      throw error instanceof Error ? error : new Error(String(error));
    }
    this._scheduleRefresh();
  }

  // Stops listening; what is being said is not finished. The microphone track stays live.
  async stop() {
    const recognizer = this.recognizer;
    this.recognizer = null;
    if (this._refreshTimer !== null) clearTimeout(this._refreshTimer);
    this._refreshTimer = null;
    this._open = null;
    if (!recognizer) return;
    try {
      await new Promise((resolve, reject) => recognizer.stopContinuousRecognitionAsync(resolve, reject));
    } finally {
      recognizer.close();
    }
  }

  // --- internals ---

  /** @param {MediaStream | MediaStreamTrack | null} source @returns {MediaStream} */
  _stream(source) {
    if (source && 'getAudioTracks' in source) return source;
    const track = source ?? this.webinar.client?.producers?.get('microphone')?.track ?? null;
    if (!track) throw new Error('no microphone to caption: publish one first, or pass a stream');
    return new MediaStream([track]);
  }

  async _fetchToken() {
    let answer;
    try {
      answer = await this.webinar.rest.getSpeechToken();
    } catch (error) {
      this._error('token', error instanceof Error ? error.message : String(error));
      throw error;
    }
    this.token = { token: answer.token, region: answer.region, expiresAt: tokenExpiry(answer.token) };
    this._emit('token', { region: this.token.region, expiresAt: this.token.expiresAt });
    return this.token;
  }

  _scheduleRefresh() {
    if (!this.recognizer) return;
    const delay = refreshDelayMs(this.token?.expiresAt ?? null, Date.now(), this.refreshMarginMs);
    this._refreshTimer = setTimeout(() => this._refresh(), delay);
  }

  // A new token for the running recognizer: used when it next connects (the service closes
  // a connection when its token expires, and the SDK connects again with the current one).
  async _refresh() {
    this._refreshTimer = null;
    if (!this.recognizer) return;
    try {
      const { token } = await this._fetchToken();
      if (this.recognizer) this.recognizer.authorizationToken = token;
      this._scheduleRefresh();
    } catch {
      if (this.recognizer) this._refreshTimer = setTimeout(() => this._refresh(), MIN_REFRESH_MS);
    }
  }

  /** @param {any} result @param {boolean} final */
  _heard(result, final) {
    const { ResultReason } = this.sdk;
    const words = result.reason === ResultReason.RecognizedSpeech || result.reason === ResultReason.RecognizingSpeech;
    const text = words ? String(result.text ?? '').trim() : '';
    if (!this._open) {
      if (!text) return; // nothing was being said
      this._utterances += 1;
      const began = this._startedAt + Number(result.offset ?? 0) / TICKS_PER_MS;
      this._open = { id: `azure-${this._session}:${this._utterances}`, timestamp: Math.round(began) };
    }
    const utterance = this._open;
    if (final) this._open = null;
    // A muted microphone is not captioned (the SDK keeps the track, and so its audio, live).
    if (this.webinar.muted && text) return;
    const me = this.webinar.me ?? null;
    /** @type {Caption} */
    const caption = {
      peer_id: me?.peerId ?? '',
      user_id: this.userId,
      name: this.userName || me?.name || 'Someone',
      text,
      final,
      timestamp: utterance.timestamp,
      utterance_id: utterance.id,
      meeting_id: this.meetingId,
      producer_id: this.webinar.client?.producers?.get('microphone')?.id ?? '',
    };
    this._emit('caption', caption);
    if (final && text && this.store) this._send(caption);
  }

  /** @param {Caption} caption */
  async _send({ name, text }) {
    try {
      const line = { meetingId: this.meetingId, userName: name, message: text };
      const answer = await this.webinar.rest.sendTranscript(line);
      this._emit('sent', { line: answer?.data ?? answer });
    } catch (error) {
      this._error('send-transcript', error instanceof Error ? error.message : String(error));
    }
  }

  /** @param {string} where @param {string} message */
  _error(where, message) {
    this._emit('error', { where, message });
  }

  /** @param {string} name @param {object} detail */
  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}
