// ActiveSpeaker's debounce over stand-in `hark` emitters and a hand-moved clock.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ActiveSpeaker } from '../src/speaker.js';

globalThis.MediaStream ??= class {
  constructor(tracks) {
    this.tracks = tracks;
  }
};

// A hark stand-in per watched track: `say(name)` fires its events.
function harness({ holdMs = 400, silenceMs = 1200 } = {}) {
  let now = 0;
  const harkers = new Map();
  const speaker = new ActiveSpeaker({
    holdMs,
    silenceMs,
    interval: 60_000, // the test decides when time passes
    now: () => now,
    createHark: (stream) => {
      const handlers = new Map();
      const harker = {
        stopped: false,
        on: (event, handler) => handlers.set(event, handler),
        stop() {
          this.stopped = true;
        },
        fire: (event) => handlers.get(event)?.(),
      };
      harkers.set(stream.tracks[0].id, harker);
      return harker;
    },
  });
  const changes = [];
  speaker.addEventListener('change', ({ detail }) => changes.push(detail.id));
  const at = (ms) => {
    now = ms;
    speaker._decide();
  };
  const say = (id, event) => harkers.get(id).fire(event);
  return { speaker, changes, at, say, harkers };
}

test('someone talking takes the highlight only after holdMs, and keeps it while talking', () => {
  const { speaker, changes, at, say } = harness();
  speaker.watch('a', { id: 'a' });
  speaker.watch('b', { id: 'b' });
  at(0);
  say('a', 'speaking');
  at(300);
  assert.deepEqual(changes, []);
  at(400);
  assert.deepEqual(changes, ['a']);
  say('b', 'speaking'); // talks over a: a keeps it
  at(2000);
  assert.deepEqual(changes, ['a']);
  say('a', 'stopped_speaking'); // a stops: b has talked long enough
  at(2000);
  assert.deepEqual(changes, ['a', 'b']);
  speaker.close();
});

test('the highlight goes after silenceMs of nobody talking, not on a breath', () => {
  const { speaker, changes, at, say } = harness();
  speaker.watch('a', { id: 'a' });
  at(0);
  say('a', 'speaking');
  at(500);
  say('a', 'stopped_speaking');
  at(1000);
  say('a', 'speaking'); // a breath: back within silenceMs
  at(1100);
  assert.deepEqual(changes, ['a']);
  say('a', 'stopped_speaking');
  at(2200);
  assert.deepEqual(changes, ['a']);
  at(2300);
  assert.deepEqual(changes, ['a', null]);
  speaker.close();
});

test('unwatching the speaker clears the highlight and stops its detector', () => {
  const { speaker, changes, at, say, harkers } = harness();
  speaker.watch('a', { id: 'a' });
  at(0);
  say('a', 'speaking');
  at(400);
  speaker.unwatch('a');
  assert.deepEqual(changes, ['a', null]);
  assert.equal(harkers.get('a').stopped, true);
  speaker.close();
});
