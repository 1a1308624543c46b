// Race rounds: small live thumbnails of the other racers' canvases, each with the AI's current
// top-1 and the racer's place once the AI recognised their drawing.
//
// Every racer's finished strokes reach everyone as `stroke` frames (and whole canvases as `canvas`
// frames after a join, an undo or a clear) with their `owner`; the AI's answers for each canvas come
// as `ai` frames with the same owner. The snapshot's `racers` says who races, their places, and the
// AI's top-1 as of that snapshot; `ai` frames are newer and win until the next turn.
//
// Thumbnails are plain 2D canvases (p5 is for the big board): a thumbnail repaints whole, at most
// once per animation frame, which for a few hundred strokes on a 160x120 canvas is nothing.

import { h, pct } from './util.js';

const THUMB_W = 160;
const ORDINALS = ['1st', '2nd', '3rd'];

export const ordinal = (n) => ORDINALS[n - 1] || `${n}th`;

class Thumb {
  constructor(ownerId, constants) {
    this.ownerId = ownerId;
    this.W = constants.canvasWidth;
    this.H = constants.canvasHeight;
    this.ink = constants.palette[0];
    this.strokes = [];
    this.aiTop = null; // {label, p} from the newest `ai` frame (or the snapshot)
    this.aiVersion = -1;
    this.canvas = h('canvas', { class: 'race-canvas', width: String(THUMB_W), height: String(Math.round(THUMB_W * this.H / this.W)), 'aria-hidden': 'true' });
    this.name = h('span', { class: 'race-name' });
    this.place = h('span', { class: 'race-place', 'data-testid': 'race-place' });
    this.ai = h('span', { class: 'race-ai', 'data-testid': 'race-ai' });
    this.el = h('li', { class: 'race-thumb', 'data-testid': 'race-thumb', dataset: { owner: String(ownerId) } },
      h('div', { class: 'race-canvas-box' }, this.canvas, this.place),
      h('div', { class: 'race-meta' }, this.name, this.ai));
    this.queued = false;
  }

  stroke(index, points, width, color) {
    this.strokes[index] = { points, width, color };
    this.repaint();
  }

  applyCanvas(start, total, list) {
    (list || []).forEach((s, i) => {
      this.strokes[start + i] = s;
    });
    if (this.strokes.length > total) this.strokes.length = total;
    this.repaint();
  }

  repaint() {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      const ctx = this.canvas.getContext('2d');
      const s = this.canvas.width / this.W;
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      for (const stroke of this.strokes) {
        if (!stroke || !stroke.points || !stroke.points.length) continue;
        const pts = stroke.points;
        // Thin lines vanish at this size: at least a pixel and a half.
        const weight = Math.max(1.5, stroke.width * s);
        ctx.strokeStyle = stroke.color || this.ink;
        ctx.fillStyle = stroke.color || this.ink;
        ctx.beginPath();
        if (pts.length === 1) {
          ctx.arc(pts[0][0] * s, pts[0][1] * s, weight / 2, 0, Math.PI * 2);
          ctx.fill();
          continue;
        }
        ctx.lineWidth = weight;
        ctx.moveTo(pts[0][0] * s, pts[0][1] * s);
        for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0] * s, pts[i][1] * s);
        ctx.stroke();
      }
    });
  }

  render(racer) {
    this.name.textContent = racer.name;
    this.name.title = racer.name;
    const top = this.aiTop;
    if (top) this.ai.replaceChildren(h('span', { class: 'race-ai-label', text: top.label }), ' ', h('span', { class: 'race-ai-p', text: pct(top.p) }));
    else this.ai.replaceChildren('the AI is looking…');
    this.ai.title = top ? `The AI: ${top.label} ${pct(top.p)}` : '';
    this.ai.classList.toggle('is-empty', !top);
    this.place.textContent = racer.place ? ordinal(racer.place) : '';
    this.place.hidden = !racer.place;
    this.el.classList.toggle('is-recognised', Boolean(racer.place));
    this.el.dataset.place = racer.place ? String(racer.place) : '';
  }
}

export class RaceStrip {
  /**
   * @param {HTMLUListElement} list where the thumbnails go
   * @param {object} constants the page's game constants
   */
  constructor(list, constants) {
    this.list = list;
    this.constants = constants;
    this.thumbs = new Map();
    this.turnId = null;
    this.racers = [];
  }

  /** A new turn (or no race): forget every thumbnail. */
  reset(turnId = null) {
    this.turnId = turnId;
    this.thumbs.clear();
    this.list.replaceChildren();
    this.racers = [];
  }

  thumb(ownerId) {
    let thumb = this.thumbs.get(ownerId);
    if (!thumb) {
      thumb = new Thumb(ownerId, this.constants);
      this.thumbs.set(ownerId, thumb);
    }
    return thumb;
  }

  /** The snapshot's racers, other than `meId`, in the snapshot's order. */
  render(racers, meId) {
    this.racers = racers.filter((r) => r.player_id !== meId);
    const shown = [];
    for (const racer of this.racers) {
      const thumb = this.thumb(racer.player_id);
      // The snapshot's top-1 counts until a live `ai` frame for this canvas says more.
      if (thumb.aiVersion < 0) thumb.aiTop = racer.ai_top || null;
      thumb.render(racer);
      shown.push(thumb.el);
    }
    const same = shown.length === this.list.children.length && shown.every((el, i) => this.list.children[i] === el);
    if (!same) this.list.replaceChildren(...shown);
  }

  stroke(msg) {
    this.thumb(msg.owner).stroke(msg.stroke, msg.points, msg.width, msg.color);
  }

  canvas(msg) {
    this.thumb(msg.owner).applyCanvas(msg.start, msg.total, msg.strokes);
  }

  ai(msg) {
    const thumb = this.thumb(msg.owner);
    if (msg.version < thumb.aiVersion) return;
    thumb.aiVersion = msg.version;
    thumb.aiTop = msg.guesses && msg.guesses.length ? msg.guesses[0] : null;
    const racer = this.racers.find((r) => r.player_id === msg.owner);
    if (racer) thumb.render(racer);
  }
}
