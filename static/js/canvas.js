// The drawing board: a p5.js canvas showing an 800x600 logical drawing at any
// size, plus pointer input (mouse, touch, pen) for the drawer.
//
// Model
//   strokes      finished strokes by index: {points: [[x, y], ...], width, color} (the drawer's
//                own also carry t: [x, y, t])
//   provisional  strokes others are drawing right now (from `points` batches),
//                replaced by the final `stroke` with the same index
//   live         the stroke this player is drawing (drawer only)
//
// Rendering keeps finished strokes in an off-screen p5.Graphics buffer, so a
// frame only copies the buffer and paints the one or two strokes in progress;
// a drawing with hundreds of strokes costs the same per frame as an empty one.
// Nothing is painted when nothing changed (the `dirty` flag).

const PAPER = '#ffffff';
const BATCH_EVERY_MS = 50;
// A stroke frame keeps this share of the server's frame limit: room for the JSON around the points.
const FRAME_SHARE = 0.9;
// Points closer than this (logical px) to the previous one add nothing visible.
const MIN_STEP = 0.8;

const round1 = (v) => Math.round(v * 10) / 10;
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/** At most `max` points, evenly spread, first and last kept. */
export function thinPoints(points, max) {
  if (points.length <= max) return points;
  const out = [];
  const step = (points.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(points[Math.round(i * step)]);
  return out;
}

export class Board {
  /**
   * @param {HTMLElement} host element the canvas fills
   * @param {object} options
   * @param {object} options.constants the page's game constants (constants.js): canvas size,
   *   brushSizes, palette (the first colour is the ink), maxPointsPerBatch, maxPointsPerStroke, maxFrameBytes
   * @param {(msg: object) => boolean} options.send sends a protocol message
   * @param {() => number} options.clock ms since the turn started (for point timestamps)
   */
  constructor(host, { constants, send, clock }) {
    this.host = host;
    this.W = constants.canvasWidth;
    this.H = constants.canvasHeight;
    this.brushSizes = constants.brushSizes;
    this.colors = constants.palette;
    this.ink = constants.palette[0];
    this.maxBatch = constants.maxPointsPerBatch;
    this.maxStroke = constants.maxPointsPerStroke;
    this.maxFrameChars = Math.floor(constants.maxFrameBytes * FRAME_SHARE);
    this.brush = this.brushSizes[Math.min(1, this.brushSizes.length - 1)];
    this.color = this.ink;
    this.send = send;
    this.clock = clock;

    this.strokes = [];
    this.provisional = new Map();
    this.live = null;
    this.canDraw = false;
    this.hover = null; // logical position of the mouse/pen while hovering (brush preview)

    this.dirty = true;
    this.rebuild = true; // repaint the whole buffer
    this.appendQueue = []; // finished strokes to add to the buffer incrementally
    this.flushTimer = null;
    this.p = null;
    this.buffer = null;
    this.canvas = null;
    this.size = { w: 0, h: 0 };

    this.start();
  }

  // --- p5 -----------------------------------------------------------------------

  start() {
    const P5 = window.p5;
    if (!P5) throw new Error('p5.js did not load');
    this.p = new P5((p) => {
      p.setup = () => {
        const { w, h } = this.measure();
        p.pixelDensity(Math.min(2, window.devicePixelRatio || 1));
        p.createCanvas(w, h);
        this.canvas = this.host.querySelector('canvas');
        this.canvas.setAttribute('aria-label', 'Drawing canvas');
        this.canvas.setAttribute('role', 'img');
        this.size = { w, h };
        this.buffer = p.createGraphics(w, h);
        this.bindPointer();
        new ResizeObserver(() => this.fit()).observe(this.host);
        this.dirty = true;
        this.rebuild = true;
      };
      p.draw = () => this.frame();
    }, this.host);
  }

  measure() {
    return { w: Math.max(1, Math.round(this.host.clientWidth)), h: Math.max(1, Math.round(this.host.clientHeight)) };
  }

  /** Follow the host's size (the CSS keeps it 4:3). */
  fit() {
    if (!this.buffer) return;
    const { w, h } = this.measure();
    if (w === this.size.w && h === this.size.h) return;
    if (this.host.clientWidth < 2) return; // hidden: keep the old size
    this.size = { w, h };
    this.p.resizeCanvas(w, h);
    this.buffer.remove();
    this.buffer = this.p.createGraphics(w, h);
    this.rebuild = true;
    this.dirty = true;
  }

  get scale() {
    return this.size.w / this.W;
  }

  frame() {
    const p = this.p;
    if (!this.buffer) return;
    if (this.rebuild) {
      this.buffer.clear();
      this.buffer.background(PAPER);
      for (const stroke of this.strokes) if (stroke) this.paint(this.buffer, stroke);
      this.rebuild = false;
      this.appendQueue = [];
      this.dirty = true;
    } else if (this.appendQueue.length) {
      for (const stroke of this.appendQueue) this.paint(this.buffer, stroke);
      this.appendQueue = [];
      this.dirty = true;
    }
    if (!this.dirty) return;
    this.dirty = false;
    p.background(PAPER);
    p.image(this.buffer, 0, 0, p.width, p.height);
    for (const stroke of this.provisional.values()) this.paint(p, stroke);
    if (this.live) this.paint(p, this.live);
    if (this.canDraw && this.hover && !this.live) {
      // Brush preview: a ring the size of the current brush.
      const s = this.scale;
      p.noFill();
      p.stroke(0, 0, 0, 90);
      p.strokeWeight(1);
      p.circle(this.hover[0] * s, this.hover[1] * s, Math.max(3, this.brush * s));
    }
  }

  /**
   * One stroke with round caps and joins; a single point becomes a dot.
   *
   * Painted through p5's `drawingContext` (the canvas 2D context p5 manages,
   * already scaled for the pixel density) rather than beginShape/vertex:
   * p5 2.x builds a shape object per vertex, which made repainting a busy
   * drawing (hundreds of strokes) take about a second instead of milliseconds.
   */
  paint(g, stroke) {
    const pts = stroke.points;
    if (!pts || !pts.length) return;
    const s = this.scale;
    const ctx = g.drawingContext;
    const weight = Math.max(1, stroke.width * s);
    ctx.save();
    ctx.strokeStyle = stroke.color || this.ink;
    ctx.fillStyle = stroke.color || this.ink;
    if (pts.length === 1) {
      ctx.beginPath();
      ctx.arc(pts[0][0] * s, pts[0][1] * s, weight / 2, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.lineWidth = weight;
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      ctx.beginPath();
      ctx.moveTo(pts[0][0] * s, pts[0][1] * s);
      for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0] * s, pts[i][1] * s);
      ctx.stroke();
    }
    ctx.restore();
  }

  // --- the model ------------------------------------------------------------------

  /** Replace every finished stroke (snapshot, undo, clear). Strokes in progress beyond the new end survive. */
  setStrokes(list) {
    this.strokes = (list || []).map((s) => ({ points: s.points, width: s.width, color: s.color }));
    for (const index of this.provisional.keys()) {
      if (index < this.strokes.length) this.provisional.delete(index);
    }
    this.rebuild = true;
    this.dirty = true;
  }

  /** Forget everything (new turn). */
  reset() {
    this.cancelLive();
    this.provisional.clear();
    this.setStrokes([]);
    this.chunking = false;
  }

  /**
   * A `canvas` frame: strokes `start`.. are these, and the drawing has `total`
   * strokes in all (any beyond are dropped: an undo or a clear). A whole
   * drawing comes as several frames, start 0 first.
   */
  applyCanvas(start, total, list) {
    (list || []).forEach((s, i) => {
      this.strokes[start + i] = { points: s.points, width: s.width, color: s.color };
      this.provisional.delete(start + i);
    });
    if (this.strokes.length > total) this.strokes.length = total;
    for (const index of this.provisional.keys()) if (index < total && this.strokes[index]) this.provisional.delete(index);
    this.chunking = start + (list || []).length < total;
    this.rebuild = true;
    this.dirty = true;
  }

  /** A finished stroke is missing below the last one we have (a frame was lost): the page asks again. */
  hasGap() {
    if (this.chunking) return false;
    for (let i = 0; i < this.strokes.length; i++) if (!this.strokes[i]) return true;
    return false;
  }

  get strokeCount() {
    return this.strokes.length;
  }

  /** A `points` batch from the drawer: grow the provisional stroke. */
  addPoints(index, points, width, color) {
    if (index < this.strokes.length && this.strokes[index]) return; // already final
    let stroke = this.provisional.get(index);
    if (!stroke) {
      stroke = { points: [], width, color };
      this.provisional.set(index, stroke);
    }
    stroke.width = width;
    stroke.color = color;
    for (const pt of points) stroke.points.push(pt);
    this.dirty = true;
  }

  /** A finished stroke from the server: replaces the provisional one with the same index. */
  setStroke(index, points, width, color) {
    this.provisional.delete(index);
    const old = this.strokes[index];
    const stroke = { points, width, color };
    if (old && old.points.length === points.length && old.width === width && (old.color || this.ink) === (color || this.ink)) {
      // Our own stroke coming back from the server: same drawing, keep the pixels.
      this.strokes[index] = stroke;
    } else if (index === this.strokes.length && !this.hasGap()) {
      this.strokes.push(stroke);
      this.appendQueue.push(stroke);
    } else {
      this.strokes[index] = stroke;
      this.rebuild = true;
    }
    this.dirty = true;
  }

  // --- drawing (drawer only) --------------------------------------------------------

  setCanDraw(on) {
    on = Boolean(on);
    if (on === this.canDraw) return;
    this.canDraw = on;
    this.host.classList.toggle('can-draw', on);
    if (!on) this.cancelLive();
    this.dirty = true;
  }

  setBrush(width) {
    if (this.brushSizes.includes(width)) {
      this.brush = width;
      this.dirty = true;
    }
  }

  /** One of the palette's colours; the next stroke is drawn with it. */
  setColor(color) {
    if (this.colors.includes(color)) this.color = color;
  }

  bindPointer() {
    const el = this.canvas;
    el.style.touchAction = 'none';
    el.addEventListener('pointerdown', (e) => this.onDown(e));
    el.addEventListener('pointermove', (e) => this.onMove(e));
    el.addEventListener('pointerup', (e) => this.onUp(e));
    el.addEventListener('pointercancel', (e) => this.onUp(e));
    el.addEventListener('lostpointercapture', (e) => this.onUp(e));
    el.addEventListener('pointerleave', () => {
      if (this.hover) {
        this.hover = null;
        this.dirty = true;
      }
    });
    // Long-press menus and selection would interrupt touch drawing.
    el.addEventListener('contextmenu', (e) => e.preventDefault());
  }

  /** Client coordinates → logical canvas coordinates, clamped, rounded to 0.1. */
  toLogical(e) {
    const rect = this.canvas.getBoundingClientRect();
    const x = ((e.clientX - rect.left) / rect.width) * this.W;
    const y = ((e.clientY - rect.top) / rect.height) * this.H;
    return [round1(clamp(x, 0, this.W)), round1(clamp(y, 0, this.H))];
  }

  onDown(e) {
    if (!this.canDraw || this.live) return; // one finger draws; a second one is ignored
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    e.preventDefault();
    try {
      this.canvas.setPointerCapture(e.pointerId);
    } catch {
      /* synthetic events cannot be captured */
    }
    this.live = {
      index: this.strokes.length, // protocol: strokes on the canvas when this one began
      width: this.brush,
      color: this.color,
      points: [],
      pending: [],
      pointerId: e.pointerId,
      lastT: 0,
    };
    this.hover = null;
    this.addLivePoint(e);
    clearInterval(this.flushTimer);
    this.flushTimer = setInterval(() => this.flush(), BATCH_EVERY_MS);
  }

  onMove(e) {
    if (!this.live) {
      if (this.canDraw && e.pointerType !== 'touch') {
        this.hover = this.toLogical(e);
        this.dirty = true;
      }
      return;
    }
    if (e.pointerId !== this.live.pointerId) return;
    e.preventDefault();
    // Coalesced events carry the points the browser merged into this frame:
    // without them fast curves come out as polygons.
    const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) this.addLivePoint(ev);
  }

  onUp(e) {
    if (!this.live || e.pointerId !== this.live.pointerId) return;
    if (e.type === 'pointerup') this.addLivePoint(e);
    this.finishLive();
  }

  addLivePoint(e) {
    const live = this.live;
    const [x, y] = this.toLogical(e);
    const last = live.points[live.points.length - 1];
    if (last && Math.hypot(x - last[0], y - last[1]) < MIN_STEP) return;
    // Timestamps never go backwards within a stroke, and are non-negative integers.
    const t = Math.max(live.lastT, Math.max(0, Math.round(this.clock())));
    live.lastT = t;
    const pt = [x, y, t];
    live.points.push(pt);
    live.pending.push(pt);
    this.dirty = true;
  }

  /** Send the points gathered since the last batch (others see the stroke grow). */
  flush() {
    const live = this.live;
    if (!live || !live.pending.length) return;
    while (live.pending.length) {
      const chunk = live.pending.splice(0, this.maxBatch);
      this.send({ type: 'points', stroke: live.index, points: chunk, width: live.width, color: live.color });
    }
  }

  finishLive() {
    const live = this.live;
    clearInterval(this.flushTimer);
    this.flushTimer = null;
    if (!live) return;
    this.flush();
    this.live = null;
    if (!live.points.length) return;
    let points = thinPoints(live.points, this.maxStroke);
    let message = { type: 'stroke', stroke: live.index, points, width: live.width, color: live.color };
    while (JSON.stringify(message).length > this.maxFrameChars && points.length > 2) {
      points = thinPoints(points, Math.floor(points.length * 0.8));
      message = { ...message, points };
    }
    // Show it as finished right away; the server's echo replaces it with the same data.
    const stroke = { points, width: live.width, color: live.color };
    this.strokes.push(stroke);
    this.appendQueue.push(stroke);
    this.dirty = true;
    this.send(message);
  }

  /** Drop the stroke in progress without sending it (turn over, connection lost). */
  cancelLive() {
    clearInterval(this.flushTimer);
    this.flushTimer = null;
    if (this.live) {
      const id = this.live.pointerId;
      this.live = null;
      try {
        if (this.canvas?.hasPointerCapture(id)) this.canvas.releasePointerCapture(id);
      } catch {
        /* ignore */
      }
      this.dirty = true;
    }
  }
}
