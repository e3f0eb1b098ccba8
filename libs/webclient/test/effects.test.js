// Media effects through the Webinar object, on a stubbed SFU transport and stand-in
// effects: the Professional gate (the plan from the join acknowledgement), the options
// reaching the effects, and changes while live replacing the producer's track (or not).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EffectsRefused, Webinar } from '../src/webinar.js';
import { backgroundSetting, noiseMode } from '../src/effects/index.js';

class StubTrack {
  constructor(kind, label) {
    this.kind = kind;
    this.label = label;
    this.readyState = 'live';
  }
  stop() {
    this.readyState = 'ended';
  }
}

class StubProducer {
  constructor(type, track) {
    this.id = `p-${type}`;
    this.track = track;
    this.replaced = [];
  }
  async replaceTrack({ track }) {
    this.replaced.push(track);
    this.track = track;
  }
  pause() {}
}

// Stands in for SeedClient: joins at once, with the plan the server says.
class StubClient extends EventTarget {
  constructor(plan) {
    super();
    this.plan = null;
    this._plan = plan;
    this.state = 'new';
    this.producers = new Map();
    this.sent = [];
  }
  async join(roomId) {
    this.socket = { id: 'sid-1', on() {}, off() {} };
    this.room = { id: roomId, peers: '[]' };
    this.plan = this._plan;
    this.state = 'joined';
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
  disconnect() {}
}

// A stand-in effect: its own output track, and a log of what it was asked.
class StubEffect {
  constructor(kind, input, how) {
    this.input = input;
    this.track = new StubTrack(kind, `processed ${input.label}`);
    this.calls = [['start', how]];
    this.mode = typeof how === 'string' ? how : undefined;
    this.setting = typeof how === 'object' ? how : undefined;
    this.fallback = null;
  }
  async setMode(mode) {
    this.calls.push(['setMode', mode]);
    this.mode = mode;
  }
  async setBackground(setting) {
    this.calls.push(['setBackground', setting]);
    this.setting = setting;
  }
  async setInput(track) {
    this.calls.push(['setInput', track.label]);
    this.input.stop();
    this.input = track;
  }
  close() {
    this.calls.push(['close']);
    this.track.stop();
  }
}

async function joined(plan, { fallback = null } = {}) {
  const made = { noise: [], background: [], options: [] };
  const webinar = new Webinar({
    url: 'http://gateway.test',
    apiKey: 'key-1',
    activeSpeaker: null,
    network: null,
    createClient: () => new StubClient(plan),
    effects: {
      createNoiseSuppressor: async (input, mode, options) => {
        const effect = new StubEffect('audio', input, mode);
        effect.fallback = fallback;
        if (fallback) effect.mode = 'browser';
        made.noise.push(effect);
        made.options.push(options);
        return effect;
      },
      createBackground: async (input, setting, options) => {
        const effect = new StubEffect('video', input, setting);
        made.background.push(effect);
        made.options.push(options);
        return effect;
      },
      getUserMedia: async () => {
        throw new Error('the tests give their tracks');
      },
    },
  });
  const heard = [];
  for (const name of ['effect', 'error']) webinar.addEventListener(name, ({ detail }) => heard.push([name, detail]));
  await webinar.join('weekly', { name: 'Host', token: 'tok' });
  return { webinar, made, heard };
}

test('an Essential tenant is refused noise suppression and a virtual background, and nothing is sent', async () => {
  const { webinar, made, heard } = await joined('essential');
  assert.equal(webinar.plan, 'essential');
  const microphone = new StubTrack('audio', 'mic');
  await assert.rejects(webinar.publish.microphone({ track: microphone, noiseSuppression: 'rnnoise' }), (error) => {
    assert.ok(error instanceof EffectsRefused);
    assert.equal(error.code, 'professional-only');
    assert.equal(error.message, 'Noise suppression is part of the Professional plan; this organisation is on Essential');
    return true;
  });
  await assert.rejects(webinar.publish.camera({ track: new StubTrack('video', 'cam'), background: { blur: 8 } }), {
    name: 'EffectsRefused',
    message: 'A virtual background is part of the Professional plan; this organisation is on Essential',
  });
  assert.deepEqual(webinar.client.sent, []);
  assert.deepEqual(made.noise, []);
  assert.equal(microphone.readyState, 'live', 'a refusal leaves the page its microphone');
  assert.deepEqual(
    heard.filter(([name]) => name === 'error').map(([, detail]) => detail.where),
    ['publish microphone', 'publish camera'],
  );
});

test('an Essential tenant is refused effects while live too, and keeps what it sends', async () => {
  const { webinar } = await joined('essential');
  const camera = new StubTrack('video', 'cam');
  await webinar.publish.camera({ track: camera });
  await assert.rejects(webinar.setBackground({ blur: 8 }), EffectsRefused);
  await assert.rejects(webinar.setNoiseSuppression('rnnoise'), /not publishing the microphone/);
  await webinar.publish.microphone({ track: new StubTrack('audio', 'mic') });
  await assert.rejects(webinar.setNoiseSuppression(true), EffectsRefused);
  assert.equal(webinar.client.producers.get('camera').track, camera);
  assert.deepEqual(webinar.client.producers.get('camera').replaced, []);
});

test("the browser's own noise suppression needs no plan", async () => {
  const { webinar, made } = await joined('essential');
  const microphone = new StubTrack('audio', 'mic');
  await webinar.publish.microphone({ track: microphone, noiseSuppression: 'browser' });
  assert.equal(webinar.client.producers.get('microphone').track, microphone);
  assert.deepEqual(made.noise, []);
  assert.equal(webinar.effects.state.noiseSuppression, 'browser');
});

test('a server that does not say its plan gets the refusal too', async () => {
  const { webinar } = await joined(null);
  await assert.rejects(
    webinar.publish.microphone({ track: new StubTrack('audio', 'mic'), noiseSuppression: 'rnnoise' }),
    /Professional plan; the server has not said this organisation's plan/,
  );
});

test('on Professional, publish sends the effects\' tracks, made from the given tracks with the gateway\'s files', async () => {
  const { webinar, made, heard } = await joined('professional');
  const microphone = new StubTrack('audio', 'mic');
  const camera = new StubTrack('video', 'cam');
  await webinar.publish.microphone({ track: microphone, noiseSuppression: 'rnnoise' });
  await webinar.publish.camera({ track: camera, background: { blur: 8 } });
  assert.equal(made.noise[0].input, microphone);
  assert.deepEqual(made.noise[0].calls, [['start', 'rnnoise']]);
  assert.equal(made.background[0].input, camera);
  assert.deepEqual(made.background[0].calls, [['start', { blur: 8 }]]);
  assert.deepEqual(made.options, [{ assetsUrl: 'http://gateway.test/demo/' }, { assetsUrl: 'http://gateway.test/demo/' }]);
  assert.deepEqual(
    webinar.client.sent.map(([, type, track]) => [type, track.label]),
    [
      ['microphone', 'processed mic'],
      ['camera', 'processed cam'],
    ],
  );
  assert.deepEqual(webinar.effects.state, {
    noiseSuppression: 'rnnoise',
    noiseSuppressionFallback: null,
    browserNoiseSuppression: null,
    background: { blur: 8 },
  });
  assert.deepEqual(
    heard.map(([name, detail]) => [name, detail.effect, detail.active]),
    [
      ['effect', 'noiseSuppression', 'rnnoise'],
      ['effect', 'background', { blur: 8 }],
    ],
  );
});

test('changing the background while live replaces the track on the same producer, or only the effect', async () => {
  const { webinar, made } = await joined('professional');
  const camera = new StubTrack('video', 'cam');
  const producer = await webinar.publish.camera({ track: camera });

  await webinar.setBackground({ blur: 12 });
  const effect = made.background[0];
  assert.equal(webinar.client.producers.get('camera'), producer, 'the same producer: no renegotiation');
  assert.deepEqual(producer.replaced, [effect.track]);

  await webinar.setBackground({ image: 'data:image/png;base64,AAAA' });
  assert.deepEqual(effect.calls.at(-1), ['setBackground', { image: 'data:image/png;base64,AAAA' }]);
  assert.equal(producer.replaced.length, 1, 'blur to image keeps the effect\'s track');

  await webinar.setBackground(null);
  assert.deepEqual(producer.replaced, [effect.track, camera], 'no background: the camera itself again');
  assert.deepEqual(effect.calls.at(-1), ['close']);
  assert.equal(camera.readyState, 'live');
  assert.equal(webinar.effects.state.background, null);
});

test('noise suppression toggles while live without a new track; off and back on', async () => {
  const { webinar, made } = await joined('professional');
  const producer = await webinar.publish.microphone({ track: new StubTrack('audio', 'mic'), noiseSuppression: true });
  const effect = made.noise[0];
  await webinar.setNoiseSuppression(false);
  await webinar.setNoiseSuppression('rnnoise');
  assert.deepEqual(effect.calls, [['start', 'rnnoise'], ['setMode', 'off'], ['setMode', 'rnnoise']]);
  assert.deepEqual(producer.replaced, []);
  assert.equal(webinar.effects.state.noiseSuppression, 'rnnoise');
});

test('turning noise suppression on while live starts it and swaps the producer\'s track', async () => {
  const { webinar, made } = await joined('professional');
  const microphone = new StubTrack('audio', 'mic');
  const producer = await webinar.publish.microphone({ track: microphone });
  await webinar.setNoiseSuppression('rnnoise');
  assert.equal(made.noise[0].input, microphone);
  assert.deepEqual(producer.replaced, [made.noise[0].track]);
});

test('a fallback to the browser\'s own suppression is said in the state and an effect event', async () => {
  const { webinar, heard } = await joined('professional', { fallback: 'this browser has no AudioWorklet' });
  await webinar.publish.microphone({ track: new StubTrack('audio', 'mic'), noiseSuppression: 'rnnoise' });
  assert.equal(webinar.effects.state.noiseSuppression, 'browser');
  assert.equal(webinar.effects.state.noiseSuppressionFallback, 'this browser has no AudioWorklet');
  assert.deepEqual(heard.at(-1), [
    'effect',
    { effect: 'noiseSuppression', active: 'browser', fallback: 'this browser has no AudioWorklet' },
  ]);
});

test('another device feeds the running effect; unpublishing stops the effect and the device', async () => {
  const { webinar, made } = await joined('professional');
  const first = new StubTrack('video', 'first cam');
  const producer = await webinar.publish.camera({ track: first, background: { blur: 8 } });
  const second = new StubTrack('video', 'second cam');
  await webinar.replaceTrack('camera', second);
  const effect = made.background[0];
  assert.deepEqual(effect.calls.at(-1), ['setInput', 'second cam']);
  assert.equal(first.readyState, 'ended');
  assert.deepEqual(producer.replaced, [], 'what is sent stays the effect\'s track');

  webinar.unpublish('camera');
  assert.deepEqual(effect.calls.at(-1), ['close']);
  assert.equal(second.readyState, 'ended');
  assert.equal(effect.track.readyState, 'ended');
});

test('settings are checked before anything starts', async () => {
  assert.deepEqual(backgroundSetting({ blur: '8' }), { blur: 8 });
  assert.equal(backgroundSetting(null), null);
  assert.throws(() => backgroundSetting({ blur: 0 }), /blur must be a number of pixels from 1 to 50/);
  assert.throws(() => backgroundSetting({ blur: 8, image: 'x.png' }), /\{blur: px\}, \{image: url\} or null/);
  assert.throws(() => backgroundSetting('blur'), TypeError);
  assert.equal(noiseMode(true), 'rnnoise');
  assert.equal(noiseMode(undefined), null);
  assert.throws(() => noiseMode('loud'), /noiseSuppression must be rnnoise, browser, off, true or false/);
  const { webinar, made } = await joined('professional');
  await assert.rejects(webinar.publish.camera({ track: new StubTrack('video', 'cam'), background: { blur: 99 } }), TypeError);
  assert.deepEqual(made.background, []);
});
