// The "Recording" badge every page of the room shows while the room is recorded on the
// server, so everybody knows, late joiners too (the SDK's `recording` event and its join).

/**
 * @param {import('../webinar.js').Webinar} webinar
 * @param {HTMLElement} badge
 */
export function showRecording(webinar, badge) {
  const show = () => {
    const recording = webinar.recording;
    badge.hidden = !recording;
    const since = recording?.startTime ? ` since ${new Date(recording.startTime).toLocaleTimeString()}` : '';
    badge.title = recording ? `This webinar is being recorded${since}` : '';
  };
  webinar.addEventListener('recording', show);
  show();
}
