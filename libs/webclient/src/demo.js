// The demo page: a form around SeedClient that shows what is sent and received.
// Tests drive the same page through `window.seedDemo` (see tests/e2e).

import { Device, MEDIA_TYPES, SeedClient, mediasoupClientVersion } from './seed-client.js';

const $ = (selector) => document.querySelector(selector);

const demo = {
  SeedClient,
  Device,
  mediasoupClientVersion,
  client: null,
  // A client on this page's gateway; the page's form uses it too.
  createClient({ apiKey, token = '', name = 'guest', sendResume = false }) {
    demo.client?.disconnect();
    const client = new SeedClient({ url: window.location.origin, apiKey, token, name, sendResume });
    attach(client);
    demo.client = client;
    window.seedClient = client;
    return client;
  },
  // The media elements showing each consumer, for tests: videoWidth, currentTime.
  remoteMedia() {
    return [...document.querySelectorAll('#remote-media [data-consumer-id]')].map((element) => ({
      consumerId: element.dataset.consumerId,
      kind: element.dataset.kind,
      videoWidth: element.videoWidth ?? 0,
      videoHeight: element.videoHeight ?? 0,
      currentTime: element.currentTime,
    }));
  },
};
window.seedDemo = demo;

function say(message) {
  $('#status').textContent = message;
}

function attach(client) {
  client.addEventListener('state', ({ detail }) => {
    const joined = detail.state === 'joined';
    $('#publish-controls').disabled = !joined;
    $('#leave').disabled = !joined;
    $('#join').disabled = joined;
    say(detail.reason ? `${detail.state}: ${detail.reason}` : `${detail.state[0].toUpperCase()}${detail.state.slice(1)}.`);
  });
  client.addEventListener('producer', ({ detail }) => {
    if (detail.track.kind !== 'video') return;
    const video = mediaElement('video', new MediaStream([detail.track]), `your ${detail.type}`);
    video.muted = true;
    video.dataset.producerId = detail.producerId;
    $('#local-media').append(video);
  });
  client.addEventListener('producerclosed', ({ detail }) => {
    document.querySelector(`#local-media [data-producer-id="${CSS.escape(detail.producerId)}"]`)?.remove();
  });
  client.addEventListener('consumer', ({ detail }) => {
    const element = mediaElement(detail.kind, new MediaStream([detail.track]), `received ${detail.kind}`);
    element.dataset.consumerId = detail.consumerId;
    element.dataset.kind = detail.kind;
    if (detail.kind === 'audio') element.controls = true;
    $('#remote-media').append(element);
  });
  client.addEventListener('consumerclosed', ({ detail }) => {
    document.querySelector(`#remote-media [data-consumer-id="${CSS.escape(detail.consumerId)}"]`)?.remove();
  });
  client.addEventListener('failure', ({ detail }) => {
    say(`${detail.where} failed: ${detail.message}`);
    console.error(`seed client: ${detail.where} failed: ${detail.message}`);
  });
}

function mediaElement(kind, stream, label) {
  const element = document.createElement(kind === 'audio' ? 'audio' : 'video');
  element.srcObject = stream;
  element.autoplay = true;
  element.playsInline = true;
  element.setAttribute('aria-label', label);
  return element;
}

async function run(action) {
  try {
    await action();
  } catch (error) {
    say(error.message);
    console.error(error);
  }
}

$('#join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  run(async () => {
    const client = demo.createClient({
      apiKey: $('#api-key').value.trim(),
      token: $('#token').value.trim(),
      name: $('#name').value.trim() || 'guest',
      sendResume: $('#send-resume').checked,
    });
    await client.join($('#room').value.trim());
  });
});

$('#leave').addEventListener('click', () => run(() => demo.client.exit()));

for (const type of MEDIA_TYPES) {
  $(`[data-publish="${type}"]`).addEventListener('click', () => run(() => demo.client.publish(type)));
  $(`[data-unpublish="${type}"]`).addEventListener('click', () => run(async () => demo.client.unpublish(type)));
}

// A shared link may name the room: /demo/?room=weekly-sync
$('#room').value = new URLSearchParams(window.location.search).get('room') ?? '';
