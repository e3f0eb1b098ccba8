// The viewer page: opened from a viewer link (/app/watch.html?room=<id>#ticket=<ticket>),
// it joins as a viewer with the link's room ticket (no API key), shows the host's and
// co-hosts' cameras and screens in a grid that adapts to the number of tiles,
// highlights who is talking, plays the sound (or asks for a click when the browser
// needs one), and says clearly when the webinar has not started, is reconnecting, or
// has ended. A viewer chats, follows the whiteboard, and may raise a hand to present.

import { Webinar } from '../webinar.js';
import { CaptionsPanel } from './captions.js';
import { ChatPanel } from './chat.js';
import { PresenterControls } from './presenter.js';
import { showRecording } from './recording-badge.js';
import { Stage } from './stage.js';
import { WhiteboardPanel } from './whiteboard.js';
import { $, run, say } from './session.js';

const NAME_KEY = 'webinar.viewerName';
const params = new URLSearchParams(window.location.search);
const fragment = new URLSearchParams(window.location.hash.slice(1));
const roomId = params.get('room') ?? '';
const ticket = fragment.get('ticket') ?? '';

let webinar = null;
let stage = null;
let whiteboard = null;
let captions = null;

// for tests
window.watchPage = {
  get webinar() { return webinar; },
  get stage() { return stage; },
  get whiteboard() { return whiteboard; },
  get captions() { return captions; },
}; // prettier-ignore

const MESSAGES = {
  notStarted: 'The webinar has not started yet. It starts playing here as soon as the host goes live.',
  live: 'Live.',
  reconnecting: 'Connection lost: reconnecting ...',
  ended: 'This webinar has ended. Thank you for watching.',
};

function hostIsHere() {
  return [...webinar.peers.values()].some((peer) => peer.role === 'host');
}

function showPresence() {
  if (webinar.state !== 'joined') return;
  const live = hostIsHere();
  $('#live-badge').hidden = !live;
  say(live ? MESSAGES.live : MESSAGES.notStarted, live ? 'ok' : 'info');
}

function over(message) {
  stage?.clear();
  whiteboard?.close();
  whiteboard = null;
  $('#stage-section').hidden = true;
  $('#enable-audio').hidden = true;
  $('#live-badge').hidden = true;
  $('#join-form').hidden = true;
  say(message);
}

async function join(name) {
  localStorage.setItem(NAME_KEY, name);
  $('#join-form').hidden = true;
  say('Joining ...');
  webinar = new Webinar({ ticket });
  stage = new Stage(webinar, {
    grid: $('#stage'),
    audio: $('#audio'),
    onAudioBlocked: () => {
      $('#enable-audio').hidden = false;
    },
  });
  webinar.addEventListener('peers', showPresence);
  showRecording(webinar, $('#rec-badge'));
  new ChatPanel(webinar, $('#chat-panel'), { roomId, ticket });
  captions = new CaptionsPanel(webinar, $('#captions-panel'));
  new PresenterControls(webinar, $('#presenter-panel'), { say });
  webinar.addEventListener('connectionstate', ({ detail }) => {
    if (detail.state === 'reconnecting') say(MESSAGES.reconnecting, 'error');
    if (detail.state === 'joined') showPresence();
  });
  webinar.addEventListener('ended', () => over(MESSAGES.ended));
  webinar.addEventListener('removed', ({ detail }) => over(`${detail.by ?? 'The host'} removed you from this webinar.`));
  try {
    await webinar.join(roomId, { name });
  } catch (error) {
    if (webinar.state === 'ended') return over(MESSAGES.ended);
    $('#join-form').hidden = false;
    throw error;
  }
  $('#stage-section').hidden = false;
  whiteboard = new WhiteboardPanel($('#whiteboard-panel'), {
    roomId,
    auth: { ticket },
    peer: () => webinar.peerProof,
    say,
  });
  const moderates = () => whiteboard?.setCanToggle(['host', 'co-host'].includes(webinar.me?.role ?? ''));
  webinar.addEventListener('peers', moderates);
  moderates();
  showPresence();
}

$('#join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  run(() => join($('#viewer-name').value.trim() || 'Viewer'));
});

$('#enable-audio').addEventListener('click', () =>
  run(async () => {
    await stage.enableAudio();
    $('#enable-audio').hidden = true;
  }),
);

$('#leave').addEventListener('click', () =>
  run(async () => {
    await webinar.leave();
    over('You left the webinar.');
    $('#join-form').hidden = false;
  }),
);

if (!roomId || !ticket) {
  $('#join-form').hidden = true;
  say('This link is incomplete: ask the host for the viewer link again.', 'error');
} else {
  $('#viewer-name').value = localStorage.getItem(NAME_KEY) ?? '';
  $('#viewer-name').focus();
}
