// The host page's recording controls, two kinds:
// - in the browser: what the host sends (the preview's camera and microphone) recorded with
//   MediaRecorder, uploaded as it goes over the recording socket (src/recorder.js); on stop
//   the server makes one MP4 and the page shows its progress and a link to it;
// - on the server: the whole room (every producer, tapped on the media node and written
//   without re-encoding), started and stopped with `recording:start` / `recording:stop` on
//   the room's socket; `recording:ready` brings the composed grid MP4's link.

import { Recorder } from '../recorder.js';
import { $ } from './session.js';

export class RecordingPanel {
  // stream(): the MediaStream to record; session: {apiKey, token}; userName: the host's name.
  constructor(root, { roomId, session, userName, stream, say }) {
    this.roomId = roomId;
    this.session = session;
    this.userName = userName;
    this.stream = stream;
    this.say = say;
    this.recorder = null;
    root.innerHTML = `
      <div class="row recording" role="group" aria-label="Recording">
        <button type="button" class="record" aria-pressed="false">Start recording</button>
        <progress class="record-progress" max="100" value="0" hidden aria-label="Processing the recording"></progress>
        <a class="record-link" hidden>Download the recording</a>
        <button type="button" class="record-room" aria-pressed="false" disabled>Record the room on the server</button>
        <a class="room-record-link" hidden>Download the room recording</a>
      </div>`;
    this.button = $('.record', root);
    this.progress = $('.record-progress', root);
    this.link = $('.record-link', root);
    this.button.addEventListener('click', () => (this.recorder ? this.stop() : this.start()));
    this.roomButton = $('.record-room', root);
    this.roomLink = $('.room-record-link', root);
    this.roomButton.addEventListener('click', () => this._toggleRoomRecording());
  }

  // The room's socket: enables the server recording button and follows what the room hears.
  attach(webinar) {
    this.webinar = webinar;
    this.roomButton.disabled = false;
    webinar.onServerEvent('recording:started', () => this._roomRecording(true));
    webinar.onServerEvent('recording:stopped', () => {
      this._roomRecording(false);
      this.say('The room recording stopped: it is being put together ...');
    });
    webinar.onServerEvent('recording:ready', (recording) => {
      if (!recording?.downloadUrl) return;
      this.roomLink.href = recording.downloadUrl;
      this.roomLink.hidden = false;
      this.say('The room recording is ready.', 'ok');
    });
    webinar.onServerEvent('recording:failed', ({ reason }) => this.say(`The room recording failed: ${reason}`, 'error'));
  }

  async _toggleRoomRecording() {
    const recording = this.roomButton.getAttribute('aria-pressed') === 'true';
    this.roomButton.disabled = true;
    try {
      await this.webinar.request(recording ? 'recording:stop' : 'recording:start', {});
      this._roomRecording(!recording);
      if (!recording) {
        this.roomLink.hidden = true;
        this.say('Recording the room on the server.', 'ok');
      }
    } catch (error) {
      this.say(error.reason ?? error.message, 'error');
    } finally {
      this.roomButton.disabled = false;
    }
  }

  _roomRecording(on) {
    this.roomButton.setAttribute('aria-pressed', String(on));
    this.roomButton.textContent = on ? 'Stop the room recording' : 'Record the room on the server';
  }

  async start() {
    this.link.hidden = true;
    const recorder = new Recorder({
      apiKey: this.session.apiKey,
      token: this.session.token,
      recordingId: `rec-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`,
      roomId: this.roomId,
      userName: this.userName,
    });
    recorder.addEventListener('progress', ({ detail }) => {
      this.progress.value = detail.percent;
    });
    recorder.addEventListener('error', ({ detail }) => this.say(`Recording: ${detail.message}`, 'error'));
    this.button.disabled = true;
    try {
      await recorder.start(this.stream());
    } finally {
      this.button.disabled = false;
    }
    this.recorder = recorder;
    this.button.textContent = 'Stop recording';
    this.button.setAttribute('aria-pressed', 'true');
    this.say('Recording.', 'ok');
  }

  async stop() {
    const recorder = this.recorder;
    this.recorder = null;
    this.button.disabled = true;
    this.button.textContent = 'Start recording';
    this.button.setAttribute('aria-pressed', 'false');
    try {
      const closed = await recorder.stop();
      if (!closed.complete) this.say(`The recording misses ${closed.missing?.length ?? 'some'} pieces.`, 'error');
      this.progress.hidden = false;
      this.progress.value = 0;
      this.say('Processing the recording ...');
      const ready = await recorder.process();
      this.link.href = ready.downloadUrl;
      this.link.hidden = false;
      this.say(`The recording is ready (${Math.round(ready.duration)} s).`, 'ok');
    } catch (error) {
      this.say(`Recording: ${error.reason ?? error.message}`, 'error');
    } finally {
      this.progress.hidden = true;
      this.button.disabled = false;
    }
  }
}
