// Browser captions with Azure Speech over a stand-in of the Speech SDK and of the
// gateway: the token fetched and handed to the recognizer, partial and final lines
// shaped like the server's `caption` event, final lines stored, the token replaced
// before it expires. (The real SDK against a stand-in of Azure's WebSocket protocol:
// tests/e2e/test_browser_azure_captions.py.)

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AzureCaptions, refreshDelayMs, tokenExpiry } from '../src/azure-captions.js';

const ResultReason = { NoMatch: 0, RecognizingSpeech: 2, RecognizedSpeech: 3 };
const CancellationReason = { Error: 0, EndOfStream: 1 };

// The parts of the Speech SDK the captions use; the recognizer made is kept to drive.
function stubSdk() {
  const sdk = {
    ResultReason,
    CancellationReason,
    CancellationErrorCode: { 1: 'AuthenticationFailure' },
    made: /** @type {any[]} */ ([]),
    SpeechConfig: {
      fromAuthorizationToken: (token, region) => ({ from: 'region', region, token }),
      fromHost: (url) => ({ from: 'host', url: url.href }),
      fromEndpoint: (url) => ({ from: 'endpoint', url: url.href }),
    },
    AudioConfig: { fromStreamInput: (stream) => ({ stream }) },
    SpeechRecognizer: class {
      constructor(config, audio) {
        this.config = { ...config };
        this.audio = audio;
        this.authorizationToken = config.authorizationToken;
        this.running = false;
        this.closed = false;
        sdk.made.push(this);
      }
      startContinuousRecognitionAsync(done) {
        this.running = true;
        done();
      }
      stopContinuousRecognitionAsync(done) {
        this.running = false;
        done();
      }
      close() {
        this.closed = true;
      }
      hear(kind, reason, text, offsetMs) {
        this[kind](this, { result: { reason, text, offset: offsetMs * 10_000 } });
      }
    },
  };
  return sdk;
}

// A JWT as Azure's token service issues them (only `exp` is read).
function jwt(expSeconds, n = 1) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'ES256' })}.${part({ region: 'westeurope', exp: expSeconds, n })}.sig`;
}

// The session the captions belong to, with a REST client that records and answers.
function stubWebinar({ tokens }) {
  const sent = [];
  let fetched = 0;
  const track = { kind: 'audio', id: 'mic-track' };
  return {
    sent,
    track,
    get fetched() {
      return fetched;
    },
    me: { peerId: 'sid-host', name: 'Robin Vale' },
    muted: false,
    client: { producers: new Map([['microphone', { id: 'p-mic', track }]]) },
    rest: {
      async getSpeechToken() {
        const token = tokens[Math.min(fetched, tokens.length - 1)];
        fetched += 1;
        if (token instanceof Error) throw token;
        return { token, region: 'westeurope' };
      },
      async sendTranscript(line) {
        sent.push(line);
        return { success: true, data: { _id: `l-${sent.length}`, ...line } };
      },
    },
  };
}

// MediaStream is the browser's; here it only carries its tracks.
globalThis.MediaStream ??= class {
  constructor(tracks) {
    this.tracks = tracks;
  }
  getAudioTracks() {
    return this.tracks;
  }
};

const events = (target, name) => {
  const seen = [];
  target.addEventListener(name, ({ detail }) => seen.push(detail));
  return seen;
};

test('a token from the gateway starts recognition of the published microphone in the asked language', async () => {
  const sdk = stubSdk();
  const token = jwt(Date.now() / 1000 + 600);
  const webinar = stubWebinar({ tokens: [token] });
  const captions = new AzureCaptions(webinar, { meetingId: 'm-1', language: 'en-GB', sdk });
  await captions.start();
  const [recognizer] = sdk.made;
  assert.equal(recognizer.running, true);
  assert.deepEqual(recognizer.config, {
    from: 'region',
    region: 'westeurope',
    token,
    authorizationToken: token,
    speechRecognitionLanguage: 'en-GB',
  });
  assert.deepEqual(recognizer.audio.stream.getAudioTracks(), [webinar.track]);
  await captions.stop();
  assert.equal(recognizer.closed, true);
  assert.equal(captions.running, false);
});

test('a host or an endpoint replaces the region\'s service, the token still authorising', async () => {
  for (const [option, from] of [['host', 'host'], ['endpoint', 'endpoint']]) {
    const sdk = stubSdk();
    const token = jwt(Date.now() / 1000 + 600);
    const captions = new AzureCaptions(stubWebinar({ tokens: [token] }), {
      meetingId: 'm-1', sdk, [option]: 'ws://127.0.0.1:5000/speech/recognition/conversation/cognitiveservices/v1',
    });
    await captions.start();
    assert.equal(sdk.made[0].config.from, from);
    assert.equal(sdk.made[0].authorizationToken, token);
    await captions.stop();
  }
});

test('partials and the final line come as the server\'s caption events; the final line is stored', async () => {
  const sdk = stubSdk();
  const webinar = stubWebinar({ tokens: [jwt(Date.now() / 1000 + 600)] });
  const captions = new AzureCaptions(webinar, { meetingId: 'm-1', userId: 'u-1', sdk });
  const seen = events(captions, 'caption');
  const stored = events(captions, 'sent');
  const before = Date.now();
  await captions.start();
  const [recognizer] = sdk.made;
  recognizer.hear('recognizing', ResultReason.RecognizingSpeech, 'we agreed', 500);
  recognizer.hear('recognizing', ResultReason.RecognizingSpeech, 'we agreed to', 500);
  recognizer.hear('recognized', ResultReason.RecognizedSpeech, 'We agreed to ship.', 500);
  recognizer.hear('recognized', ResultReason.NoMatch, '', 4000); // silence: nothing to say
  recognizer.hear('recognizing', ResultReason.RecognizingSpeech, 'next', 6000);
  recognizer.hear('recognized', ResultReason.NoMatch, '', 6000); // no words after all: drop the partial
  await new Promise((resolve) => setImmediate(resolve));

  assert.deepEqual(seen.map(({ text, final }) => [text, final]), [
    ['we agreed', false], ['we agreed to', false], ['We agreed to ship.', true], ['next', false], ['', true],
  ]);
  const first = seen[0];
  assert.deepEqual(Object.keys(first).sort(), [
    'final', 'meeting_id', 'name', 'peer_id', 'producer_id', 'text', 'timestamp', 'user_id', 'utterance_id',
  ]);
  assert.equal(first.name, 'Robin Vale');
  assert.equal(first.peer_id, 'sid-host');
  assert.equal(first.user_id, 'u-1');
  assert.equal(first.meeting_id, 'm-1');
  assert.equal(first.producer_id, 'p-mic');
  assert.ok(first.timestamp >= before + 500 && first.timestamp <= Date.now() + 500, 'began half a second in');
  assert.equal(new Set(seen.slice(0, 3).map((c) => c.utterance_id)).size, 1, 'one utterance');
  assert.notEqual(seen[3].utterance_id, seen[0].utterance_id);
  assert.equal(seen[4].utterance_id, seen[3].utterance_id);
  assert.deepEqual(webinar.sent, [{ meetingId: 'm-1', userName: 'Robin Vale', message: 'We agreed to ship.' }]);
  assert.equal(stored[0].line._id, 'l-1');
  await captions.stop();
});

test('nothing is captioned or stored while the microphone is muted', async () => {
  const sdk = stubSdk();
  const webinar = stubWebinar({ tokens: [jwt(Date.now() / 1000 + 600)] });
  const captions = new AzureCaptions(webinar, { meetingId: 'm-1', sdk });
  const seen = events(captions, 'caption');
  await captions.start();
  webinar.muted = true;
  sdk.made[0].hear('recognizing', ResultReason.RecognizingSpeech, 'off the record', 100);
  sdk.made[0].hear('recognized', ResultReason.RecognizedSpeech, 'Off the record.', 100);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(seen, []);
  assert.deepEqual(webinar.sent, []);
  await captions.stop();
});

test('the token is replaced before it expires, and again after a failed fetch', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });
  const sdk = stubSdk();
  const now = Date.now() / 1000;
  const tokens = [jwt(now + 120, 1), new Error('HTTP 503'), jwt(now + 700, 2)];
  const webinar = stubWebinar({ tokens });
  const captions = new AzureCaptions(webinar, { meetingId: 'm-1', sdk });
  const errors = events(captions, 'error');
  await captions.start();
  const [recognizer] = sdk.made;
  assert.equal(recognizer.authorizationToken, tokens[0]);

  t.mock.timers.tick(120_000 - 30_000 - 1); // not yet: 30 s before expiry
  assert.equal(webinar.fetched, 1);
  t.mock.timers.tick(1);
  await settle();
  assert.equal(webinar.fetched, 2);
  assert.deepEqual(errors.map((e) => e.where), ['token']);
  assert.equal(recognizer.authorizationToken, tokens[0], 'kept while no new one came');

  t.mock.timers.tick(5_000); // tried again shortly
  await settle();
  assert.equal(webinar.fetched, 3);
  assert.equal(recognizer.authorizationToken, tokens[2]);

  await captions.stop();
  t.mock.timers.tick(3_600_000);
  await settle();
  assert.equal(webinar.fetched, 3, 'no refresh once stopped');
});

test('a recognition the service cancels stops the captions and says why', async () => {
  const sdk = stubSdk();
  const webinar = stubWebinar({ tokens: [jwt(Date.now() / 1000 + 600)] });
  const captions = new AzureCaptions(webinar, { meetingId: 'm-1', sdk });
  const errors = events(captions, 'error');
  await captions.start();
  const [recognizer] = sdk.made;
  recognizer.canceled(recognizer, { reason: CancellationReason.EndOfStream });
  assert.equal(captions.running, true, 'the end of the audio is no error');
  recognizer.canceled(recognizer, { reason: CancellationReason.Error, errorCode: 1, errorDetails: 'token expired' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(errors, [{ where: 'recognition', message: 'token expired (AuthenticationFailure)' }]);
  assert.equal(captions.running, false);
  assert.equal(recognizer.closed, true);
});

test('captions without a token do not start, and say why', async () => {
  const sdk = stubSdk();
  const webinar = stubWebinar({ tokens: [new Error('speech tokens are not configured on this server')] });
  const captions = new AzureCaptions(webinar, { meetingId: 'm-1', sdk });
  const errors = events(captions, 'error');
  await assert.rejects(captions.start(), /not configured/);
  assert.deepEqual(errors, [{ where: 'token', message: 'speech tokens are not configured on this server' }]);
  assert.equal(sdk.made.length, 0);
  assert.equal(captions.running, false);
});

test('a token\'s expiry is read from its JWT; an unreadable one is refreshed within a minute', () => {
  assert.equal(tokenExpiry(jwt(1_700_000_600)), 1_700_000_600_000);
  assert.equal(tokenExpiry('not-a-jwt'), null);
  assert.equal(tokenExpiry('a.%%%.c'), null);
  assert.equal(refreshDelayMs(1_000_600_000, 1_000_000_000), 570_000);
  assert.equal(refreshDelayMs(1_000_010_000, 1_000_000_000), 5_000, 'never a busy loop');
  assert.equal(refreshDelayMs(null, 0), 60_000);
});

async function settle() {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
}
