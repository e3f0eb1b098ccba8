// The whiteboard panel: the seed's ART socket (/erizocontroller/socket.io) drawn with Konva.
// A host or co-host opens or closes the board for the room (`whiteBoardToggle`: a co-host's
// page names its peer on the SFU socket with the key its join answered); whoever joins asks
// for its state (`whiteBoardStateRequest`: the last stage and the strokes since) and
// replays it; strokes are sent as `sendDrawingData` mousedown / mousemove / mouseup with
// the pen's settings and drawn as they arrive from the others; `Un-do` takes back the
// sender's last stroke and `clear-whiteBoard` empties the board, for everyone.
//
// Coordinates travel in board units (a 1600 x 900 board), so every screen size agrees.

import Konva from 'konva';
import { io } from 'socket.io-client';

import { $ } from './session.js';

export const BOARD = Object.freeze({ width: 1600, height: 900 });
const ACK_TIMEOUT_MS = 10000;

export class WhiteboardPanel {
  // auth: what the socket connects with ({apiKey, token} or {ticket}); canToggle: a host's
  // page (setCanToggle follows a co-host's role); peer: () => the page's peer proof
  // ({peer_id, peer_key}: Webinar.peerProof) or null.
  constructor(root, { roomId, auth, canToggle = false, peer = () => null, say = () => {} }) {
    this.roomId = roomId;
    this.say = say;
    this.peer = peer;
    this.enabled = false;
    this.lines = new Map(); // stroke id -> Konva.Line
    this.pending = null; // this page's stroke being drawn: {line, strokeId}
    this.mine = []; // this page's strokes, oldest first: {line, strokeId}
    root.innerHTML = `
      <section class="card whiteboard" aria-labelledby="whiteboard-heading">
        <div class="row">
          <h2 id="whiteboard-heading">Whiteboard</h2>
          <button type="button" class="toggle-board" aria-pressed="false" hidden>Open whiteboard</button>
        </div>
        <p class="board-note">The host has not opened the whiteboard.</p>
        <div class="board-area" hidden>
          <div class="row tools" role="group" aria-label="Pen">
            <label>Colour <input type="color" class="ink" value="#1f5fd1"></label>
            <label>Size <input type="range" class="size" min="1" max="40" value="4"></label>
            <button type="button" class="eraser" aria-pressed="false">Eraser</button>
            <button type="button" class="undo">Undo</button>
            <button type="button" class="clear">Clear</button>
          </div>
          <div class="board" role="img" aria-label="The whiteboard"></div>
        </div>
      </section>`;
    this.toggle = $('.toggle-board', root);
    this.note = $('.board-note', root);
    this.area = $('.board-area', root);
    this.container = $('.board', root);
    this.ink = $('.ink', root);
    this.size = $('.size', root);
    this.eraser = $('.eraser', root);
    this.toggle.hidden = !canToggle;
    this.toggle.addEventListener('click', () =>
      this._run(() => this._send('whiteBoardToggle', { enabled: !this.enabled, ...(this.peer() ?? {}) })),
    );
    this.eraser.addEventListener('click', () =>
      this.eraser.setAttribute('aria-pressed', String(this.eraser.getAttribute('aria-pressed') !== 'true')),
    );
    $('.undo', root).addEventListener('click', () => this._run(() => this.undo()));
    $('.clear', root).addEventListener('click', () => this._run(() => this.clear()));

    this.stage = new Konva.Stage({ container: this.container, width: BOARD.width, height: BOARD.height });
    this.layer = new Konva.Layer();
    this.stage.add(this.layer);
    this._fit();
    new ResizeObserver(() => this._fit()).observe(this.area);
    this.stage.on('pointerdown', () => this._draw('mousedown'));
    this.stage.on('pointermove', () => this._draw('mousemove'));
    this.stage.on('pointerup pointerleave', () => this._draw('mouseup'));

    this.socket = io(window.location.origin, { path: '/erizocontroller/socket.io', auth, transports: ['websocket'] });
    this.socket.on('connect', () => this._run(() => this.load()));
    this.socket.on('connect_error', (error) => say(`whiteboard: ${error.message}`, 'error'));
    this.socket.on('whiteBoardToggle', (event) => this._show(Boolean(message(event).enabled)));
    this.socket.on('white-board-stage', (event) => this._loadStage(message(event).stage));
    this.socket.on('sendDrawingData', (event) => this._drawRemote(message(event)));
    this.socket.on('Un-do', (event) => this._remove(message(event).strokeId));
    this.socket.on('clear-whiteBoard', () => this._clearLocal());
  }

  // The board as it is now (for a newcomer, and after a reconnect): the stage, then the strokes.
  async load() {
    const state = await this._send('whiteBoardStateRequest', {});
    this._clearLocal();
    if (state.stage) this._loadStage(state.stage);
    for (const stroke of state.strokes ?? []) this._drawRemote(stroke);
    this._show(Boolean(state.enabled));
  }

  async undo() {
    const answer = await this._send('Un-do', {});
    if (answer?.strokeId) this._remove(answer.strokeId);
  }

  async clear() {
    await this._send('clear-whiteBoard', {});
    this._clearLocal();
  }

  // What is drawn, for tests and checks: each line's colour, width and points, by stroke.
  snapshot() {
    return [...this.lines.entries()].map(([strokeId, line]) => ({
      strokeId,
      stroke: line.stroke(),
      strokeWidth: line.strokeWidth(),
      points: line.points(),
    }));
  }

  close() {
    this.socket.close();
    this.stage.destroy();
  }

  // --- drawing ---

  _pen() {
    return {
      eraser: this.eraser.getAttribute('aria-pressed') === 'true',
      brushSize: Number(this.size.value),
      inkColor: this.ink.value,
      brushOpacity: 1,
    };
  }

  _draw(drawingType) {
    if (!this.enabled) return;
    const pointer = this.layer.getRelativePointerPosition(); // in board units, whatever the scale
    const point = pointer ? round(pointer) : null;
    if (drawingType === 'mousedown') {
      if (!point) return;
      const pen = this._pen();
      const line = newLine(pen, point);
      this.layer.add(line);
      const stroke = { line, strokeId: null };
      this.pending = stroke;
      this.mine.push(stroke);
      this._emitDrawing('mousedown', { pos: point, ...pen }, stroke);
      return;
    }
    if (!this.pending) return;
    if (drawingType === 'mousemove' && point) {
      this.pending.line.points([...this.pending.line.points(), point.x, point.y]);
      this._emitDrawing('mousemove', { pos: point, ...this._pen() }, this.pending);
      return;
    }
    if (drawingType === 'mouseup') {
      this._emitDrawing('mouseup', { pos: point ?? { x: 0, y: 0 }, ...this._pen() }, this.pending);
      this.pending = null;
    }
  }

  _emitDrawing(drawingType, payload, stroke) {
    this._send('sendDrawingData', { drawingType, payload })
      .then((answer) => {
        if (stroke.strokeId === null && answer?.strokeId) {
          stroke.strokeId = answer.strokeId;
          this.lines.set(answer.strokeId, stroke.line);
        }
      })
      .catch((error) => this.say(`whiteboard: ${error.message}`, 'error'));
  }

  _drawRemote({ drawingType, payload, strokeId }) {
    if (!strokeId || !payload?.pos) return;
    let line = this.lines.get(strokeId);
    if (drawingType === 'mousedown' || !line) {
      line?.destroy();
      line = newLine(payload, payload.pos);
      this.layer.add(line);
      this.lines.set(strokeId, line);
      return;
    }
    if (drawingType === 'mousemove') line.points([...line.points(), payload.pos.x, payload.pos.y]);
  }

  _remove(strokeId) {
    const line = this.lines.get(strokeId);
    line?.destroy();
    this.lines.delete(strokeId);
    this.mine = this.mine.filter((stroke) => stroke.strokeId !== strokeId);
  }

  _clearLocal() {
    this.layer.destroyChildren();
    this.lines.clear();
    this.mine = [];
    this.pending = null;
  }

  _loadStage(stage) {
    if (!stage) return;
    this._clearLocal();
    const layers = (stage.children ?? []).filter((child) => child.className === 'Layer');
    for (const layer of layers) {
      for (const child of layer.children ?? []) {
        if (child.className !== 'Line') continue;
        const line = new Konva.Line(child.attrs);
        this.layer.add(line);
        if (child.attrs?.id) this.lines.set(child.attrs.id, line);
      }
    }
  }

  // --- the socket and the page ---

  // Whether this page may open and close the board (a viewer approved as a co-host may).
  setCanToggle(can) {
    this.toggle.hidden = !can;
  }

  _show(enabled) {
    this.enabled = enabled;
    this.area.hidden = !enabled;
    this.note.hidden = enabled;
    this.toggle.textContent = enabled ? 'Close whiteboard' : 'Open whiteboard';
    this.toggle.setAttribute('aria-pressed', String(enabled));
    if (enabled) this._fit();
  }

  _fit() {
    const width = this.area.clientWidth || this.container.clientWidth;
    if (!width) return;
    const scale = width / BOARD.width;
    this.stage.width(BOARD.width * scale);
    this.stage.height(BOARD.height * scale);
    this.stage.scale({ x: scale, y: scale });
  }

  _send(event, msg) {
    return new Promise((resolve, reject) => {
      this.socket
        .timeout(ACK_TIMEOUT_MS)
        .emit(event, { type: event, msg: { room_id: this.roomId, ...msg } }, (timedOut, answer) => {
          if (timedOut) reject(new Error(`${event}: no acknowledgement in time`));
          else if (answer && typeof answer === 'object' && answer.error) reject(new Error(answer.error));
          else resolve(answer);
        });
    });
  }

  async _run(action) {
    try {
      await action();
    } catch (error) {
      this.say(error.message, 'error');
    }
  }
}

// The seed's events come as {type, msg}; a bare msg is taken too.
function message(event) {
  return event?.msg ?? event ?? {};
}

function newLine(pen, point) {
  return new Konva.Line({
    points: [point.x, point.y, point.x, point.y],
    stroke: pen.inkColor,
    strokeWidth: pen.brushSize,
    opacity: pen.brushOpacity ?? 1,
    globalCompositeOperation: pen.eraser ? 'destination-out' : 'source-over',
    lineCap: 'round',
    lineJoin: 'round',
    tension: 0,
  });
}

function round(point) {
  return { x: Math.round(point.x * 10) / 10, y: Math.round(point.y * 10) / 10 };
}
