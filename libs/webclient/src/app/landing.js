// The landing page: the organisation's API key, log in or create an account, create a
// webinar (a webinar room and a meeting hosted by the signed-in user), open its host
// page and copy its viewer link (a room ticket: the link never carries the API key).

import { RestClient } from '../rest.js';
import {
  $,
  copyText,
  fullName,
  run,
  saveApiKey,
  saveSignIn,
  savedSession,
  say,
  signOut,
  takeKeyFromAddress,
} from './session.js';

let session = savedSession();
const rest = () => new RestClient({ baseUrl: window.location.origin, apiKey: session.apiKey, token: session.token });

function show() {
  session = savedSession();
  $('#api-key').value = session.apiKey;
  const signedIn = Boolean(session.apiKey && session.token && session.user);
  $('#sign-in').hidden = !session.apiKey || signedIn;
  $('#webinars').hidden = !signedIn;
  $('#signed-in-as').textContent = signedIn ? `Signed in as ${fullName(session.user)}` : '';
  if (signedIn) run(listWebinars);
}

async function signIn(email, password) {
  const client = rest();
  const granted = await client.login({ userName: email, password });
  const user = granted.data.user;
  saveSignIn(client.token, user);
  say(`Welcome, ${fullName(user)}.`, 'ok');
  show();
}

async function listWebinars() {
  const page = await rest().listMeetings(session.user._id, { limit: 50 });
  const list = $('#webinar-list');
  list.replaceChildren(...page.data.filter((meeting) => meeting.roomId).map(webinarItem));
  if (!list.children.length) say('No webinars yet: create one above.');
}

function webinarItem(meeting) {
  const item = $('#webinar-item').content.firstElementChild.cloneNode(true);
  item.dataset.roomId = meeting.roomId;
  item.dataset.meetingId = meeting._id;
  $('.title', item).textContent = meeting.title;
  const host = $('.host-link', item);
  host.href = `host.html?${new URLSearchParams({ room: meeting.roomId, meeting: meeting._id, title: meeting.title })}`;
  host.setAttribute('aria-label', `Open the host page of ${meeting.title}`);
  const copy = $('.copy-link', item);
  copy.setAttribute('aria-label', `Copy the viewer link of ${meeting.title}`);
  const field = $('.viewer-link', item);
  $('.link-label', item).hidden = true;
  copy.addEventListener('click', () =>
    run(async () => {
      const link = await viewerLink(meeting.roomId);
      field.value = link;
      $('.link-label', item).hidden = false;
      const copied = await copyText(link, field);
      say(copied ? 'Viewer link copied: share it with your audience.' : 'Viewer link selected: copy it.', 'ok');
    }),
  );
  const after = $('.show-transcript', item);
  after.setAttribute('aria-label', `Show the transcript and summary of ${meeting.title}`);
  after.addEventListener('click', () => run(() => showAfterMeeting(item, meeting._id)));
  return item;
}

// After the meeting: its transcript (the captions' final lines and any sent lines, in spoken
// order) and its summary, written on first ask.
async function showAfterMeeting(item, meetingId) {
  const client = rest();
  const transcript = await client.viewTranscript(meetingId, { limit: 500 });
  const lines = $('.lines', item);
  lines.replaceChildren(
    ...transcript.data.map((line) => {
      const row = document.createElement('li');
      const who = document.createElement('strong');
      who.textContent = `${line.userName}: `;
      row.append(who, line.message);
      return row;
    }),
  );
  let summary = '';
  if (transcript.data.length) {
    try {
      summary = (await client.getSummary(meetingId)).summary;
    } catch (error) {
      if (error.status !== 404) throw error;
      summary = (await client.generateSummary(meetingId)).summary;
    }
  }
  $('.summary', item).textContent = summary || 'Nothing was said yet, so there is nothing to summarise.';
  $('.after', item).hidden = false;
}

async function viewerLink(roomId) {
  const answer = await rest().createViewerLink(roomId);
  return new URL(answer.data.path, window.location.href).href;
}

$('#key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  saveApiKey($('#api-key').value.trim());
  say('Key saved in this browser.', 'ok');
  show();
});

$('#login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  run(() => signIn($('#login-email').value.trim(), $('#login-password').value));
});

$('#register-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const user = Object.fromEntries([...form].map(([name, value]) => [name, String(value).trim()]));
  user.password = String(form.get('password'));
  run(async () => {
    await rest().register(user);
    await signIn(user.email, user.password);
  });
});

$('#create-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const title = $('#webinar-title').value.trim();
  run(async () => {
    const client = rest();
    const room = (await client.createRoom({ name: title, type: 'webinar' })).data;
    const meeting = (
      await client.createMeeting({ title, hostId: session.user._id, transcriptEnabled: $('#webinar-captions').checked })
    ).data;
    await client.updateMeeting(meeting._id, { userId: session.user._id, roomId: room.id });
    $('#webinar-title').value = '';
    $('#webinar-list').prepend(webinarItem({ ...meeting, roomId: room.id }));
    say(`"${title}" is ready: open its host page, and copy its viewer link for your audience.`, 'ok');
  });
});

$('#sign-out').addEventListener('click', () => {
  signOut();
  say('Logged out.');
  show();
});

takeKeyFromAddress();
show();
