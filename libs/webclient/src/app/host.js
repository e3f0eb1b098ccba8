// The host page: preview the camera and microphone (with device pickers), go live in
// the meeting's room, mute, stop the camera, share the screen, see who watches, answer
// raised hands, mute, demote or remove someone, chat, open the whiteboard, copy the
// viewer link, and end the webinar for everyone.

import { Webinar } from '../webinar.js';
import { RestClient } from '../rest.js';
import { CaptionsPanel } from './captions.js';
import { ChatPanel } from './chat.js';
import { PeoplePanel } from './people.js';
import { showRecording } from './recording-badge.js';
import { RecordingPanel } from './recording-panel.js';
import { Stage } from './stage.js';
import { WhiteboardPanel } from './whiteboard.js';
import { EffectsPanel } from './effects-panel.js';
import { $, copyText, fullName, run, savedSession, say } from './session.js';

const params = new URLSearchParams(window.location.search);
const roomId = params.get('room') ?? '';
const title = params.get('title') || 'Your webinar';
const session = savedSession();

let preview = null; // the MediaStream shown before and while live
let webinar = null;
let stage = null;
let whiteboard = null;
let effects = null; // noise suppression and virtual backgrounds (effects-panel.js)
let captions = null;

// for tests
window.hostPage = {
  get webinar() { return webinar; },
  get preview() { return preview; },
  get whiteboard() { return whiteboard; },
  get effects() { return effects; },
  get captions() { return captions; },
}; // prettier-ignore

function setButton(button, { pressed, label, disabled }) {
  if (pressed !== undefined) button.setAttribute('aria-pressed', String(pressed));
  if (label !== undefined) button.textContent = label;
  if (disabled !== undefined) button.disabled = disabled;
}

async function capture({ cameraId, microphoneId } = {}) {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: cameraId ? { deviceId: { exact: cameraId } } : { width: { ideal: 1280 }, height: { ideal: 720 } },
    audio: microphoneId ? { deviceId: { exact: microphoneId } } : true,
  });
  return stream;
}

async function showPreview(stream) {
  for (const track of preview?.getTracks() ?? []) {
    if (!stream.getTracks().includes(track)) track.stop();
  }
  preview = stream;
  $('#preview').srcObject = stream;
  await fillDevices();
}

async function fillDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const current = {
    videoinput: preview?.getVideoTracks()[0]?.getSettings().deviceId,
    audioinput: preview?.getAudioTracks()[0]?.getSettings().deviceId,
  };
  for (const [kind, select] of [['videoinput', $('#camera-select')], ['audioinput', $('#microphone-select')]]) {
    const options = devices
      .filter((device) => device.kind === kind)
      .map((device, index) => new Option(device.label || `${kind === 'videoinput' ? 'Camera' : 'Microphone'} ${index + 1}`, device.deviceId));
    select.replaceChildren(...options);
    if (current[kind]) select.value = current[kind];
  }
}

// A new device: a new preview, and while live the new track replaces the sent one.
async function switchDevice(kind) {
  const isCamera = kind === 'camera';
  const select = isCamera ? $('#camera-select') : $('#microphone-select');
  const stream = await navigator.mediaDevices.getUserMedia(
    isCamera ? { video: { deviceId: { exact: select.value } } } : { audio: { deviceId: { exact: select.value } } },
  );
  const track = isCamera ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
  const type = isCamera ? 'camera' : 'microphone';
  if (webinar?.client?.producers.has(type)) await webinar.replaceTrack(type, track);
  const old = isCamera ? preview.getVideoTracks() : preview.getAudioTracks();
  for (const gone of old) {
    preview.removeTrack(gone);
    if (!webinar?.client?.producers.has(type)) gone.stop();
  }
  preview.addTrack(track);
  $('#preview').srcObject = preview;
  effects.refresh();
}

function showViewerCount() {
  const count = webinar.viewerCount;
  $('#viewer-count').textContent = `${count} ${count === 1 ? 'viewer' : 'viewers'}`;
}

async function goLive() {
  setButton($('#go-live'), { disabled: true });
  say('Going live ...');
  webinar = new Webinar({ apiKey: session.apiKey });
  webinar.rest.token = session.token;
  stage = new Stage(webinar, { grid: $('#stage'), audio: $('#audio') });
  new PeoplePanel(webinar, $('#people-panel'), { say });
  new ChatPanel(webinar, $('#chat-panel'), { roomId, apiKey: session.apiKey });
  captions = new CaptionsPanel(webinar, $('#captions-panel'));
  const recording = new RecordingPanel($('#recording-panel'), {
    roomId,
    session,
    userName: fullName(session.user),
    stream: () => preview,
    say,
  });
  recording.attach(webinar);
  showRecording(webinar, $('#rec-badge'));
  webinar.addEventListener('peers', showViewerCount);
  webinar.addEventListener('connectionstate', ({ detail }) => {
    if (detail.state === 'reconnecting') say('Connection lost: reconnecting ...', 'error');
    if (detail.state === 'joined' && detail.reason === 'reconnected') say('Back live.', 'ok');
  });
  webinar.addEventListener('muted', ({ detail }) => {
    setButton($('#mute'), { pressed: true, label: 'Unmute microphone' });
    say(`${detail.by ?? 'The host'} muted your microphone.`);
  });
  webinar.addEventListener('ended', () => finished('The webinar has ended.'));
  webinar.addEventListener('removed', ({ detail }) => finished(`${detail.by ?? 'The host'} removed you from this webinar.`));
  try {
    await webinar.join(roomId, { name: fullName(session.user), token: session.token });
    const [camera] = preview.getVideoTracks();
    const [microphone] = preview.getAudioTracks();
    await effects.publish(webinar, { camera, microphone });
  } catch (error) {
    setButton($('#go-live'), { disabled: false });
    throw error;
  }
  for (const id of ['#mute', '#camera-toggle', '#share', '#end']) $(id).disabled = false;
  $('#go-live').hidden = true;
  say('You are live. Viewers with the link see and hear you.', 'ok');
  showViewerCount();
}

async function toggleMute() {
  if (webinar.muted) webinar.unmute();
  else webinar.mute();
  setButton($('#mute'), { pressed: webinar.muted, label: webinar.muted ? 'Unmute microphone' : 'Mute microphone' });
  say(webinar.muted ? 'Your microphone is muted.' : 'Your microphone is on.');
}

async function toggleCamera() {
  const button = $('#camera-toggle');
  if (webinar.client.producers.has('camera')) {
    webinar.unpublish('camera');
    for (const track of preview.getVideoTracks()) preview.removeTrack(track);
    setButton(button, { pressed: true, label: 'Start camera' });
    return;
  }
  const stream = await navigator.mediaDevices.getUserMedia({ video: { deviceId: { exact: $('#camera-select').value } } });
  const [track] = stream.getVideoTracks();
  await webinar.publish.camera({ track, ...effects.options('camera') });
  preview.addTrack(track);
  $('#preview').srcObject = preview;
  effects.refresh();
  setButton(button, { pressed: false, label: 'Stop camera' });
}

async function toggleShare() {
  const button = $('#share');
  if (webinar.client.producers.has('screen')) {
    webinar.unpublish('screen');
    setButton(button, { pressed: false, label: 'Share screen' });
    return;
  }
  const producer = await webinar.publish.screen();
  setButton(button, { pressed: true, label: 'Stop sharing' });
  say('You are sharing your screen.', 'ok');
  // Stopped from the browser's own "stop sharing" bar: the SDK unpublishes; the button follows.
  producer.track.addEventListener('ended', () => setButton(button, { pressed: false, label: 'Share screen' }));
}

function finished(message) {
  for (const id of ['#go-live', '#mute', '#camera-toggle', '#share', '#end']) $(id).disabled = true;
  for (const track of preview?.getTracks() ?? []) track.stop();
  $('#preview').srcObject = null;
  stage?.clear();
  whiteboard?.close();
  say(message);
}

async function start() {
  $('#title').textContent = title;
  document.title = `${title}: host`;
  if (!roomId) return say('This page needs a room: open it from the list of your webinars.', 'error');
  if (!session.apiKey || !session.token || !session.user) {
    return say('Log in on the webinars page first, then open this webinar from your list.', 'error');
  }
  effects = new EffectsPanel($('#effects-panel'), { video: $('#preview'), preview: () => preview, say });
  whiteboard = new WhiteboardPanel($('#whiteboard-panel'), {
    roomId,
    auth: { apiKey: session.apiKey, token: session.token },
    canToggle: true,
    peer: () => webinar?.peerProof ?? null,
    say,
  });
  await run(async () => {
    await showPreview(await capture());
    say('Check your camera and microphone, then go live.');
  });
  $('#go-live').disabled = false;
}

$('#go-live').addEventListener('click', () => run(goLive));
$('#mute').addEventListener('click', () => run(toggleMute));
$('#camera-toggle').addEventListener('click', () => run(toggleCamera));
$('#share').addEventListener('click', () => run(toggleShare));
$('#end').addEventListener('click', () => run(() => webinar.end()));
$('#camera-select').addEventListener('change', () => run(() => switchDevice('camera')));
$('#microphone-select').addEventListener('change', () => run(() => switchDevice('microphone')));
$('#copy-link').addEventListener('click', () =>
  run(async () => {
    const rest = new RestClient({ baseUrl: window.location.origin, apiKey: session.apiKey, token: session.token });
    const answer = await rest.createViewerLink(roomId);
    const link = new URL(answer.data.path, window.location.href).href;
    const field = $('#viewer-link');
    field.value = link;
    field.closest('label').hidden = false;
    const copied = await copyText(link, field);
    say(copied ? 'Viewer link copied.' : 'Viewer link selected: copy it.', 'ok');
  }),
);
start();
