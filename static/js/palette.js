// The drawer's tools beside the canvas: brush sizes and colours (game/protocol.py BRUSH_SIZES and
// PALETTE, through the page's constants). The AI reads strokes, not pixels: colour is for the players.
//
// The choice is remembered for the page's life (every turn this page draws starts with the last
// brush and colour picked), not across visits. Keys: 1-3 pick a brush, Shift+1..8 a colour (the
// room page routes them here while its player draws).

import { h } from './util.js';

const BRUSH_NAMES = ['Thin', 'Medium', 'Thick'];
// What a screen reader says for each colour of the palette (by position; any other is its hex code).
const COLOR_NAMES = ['Black', 'Red', 'Orange', 'Yellow', 'Green', 'Blue', 'Purple', 'Brown'];

export class DrawingTools {
  /**
   * @param {{brushes: HTMLElement, palette: HTMLElement}} boxes
   * @param {{brushSizes: number[], palette: string[]}} constants
   * @param {import('./canvas.js').Board} board whose brush and colour these set
   */
  constructor({ brushes, palette }, constants, board) {
    this.board = board;
    this.sizes = constants.brushSizes;
    this.colors = constants.palette;
    this.brushBox = brushes;
    this.paletteBox = palette;
    brushes.replaceChildren(...this.sizes.map((size, i) => h('button', {
      class: 'brush', type: 'button', 'data-testid': 'brush', dataset: { size: String(size) },
      title: `${BRUSH_NAMES[i] || size} brush (${i + 1})`, 'aria-label': `Brush size ${size}`,
      onclick: () => this.setBrush(size),
    }, h('span', { class: 'dot', style: { width: `${Math.max(4, size * 0.9)}px`, height: `${Math.max(4, size * 0.9)}px` } }))));
    palette.replaceChildren(...this.colors.map((color, i) => h('button', {
      class: 'swatch', type: 'button', 'data-testid': 'swatch', dataset: { color }, style: { backgroundColor: color },
      title: `${COLOR_NAMES[i] || color} (Shift+${i + 1})`, 'aria-label': COLOR_NAMES[i] || color,
      onclick: () => this.setColor(color),
    })));
    this.paint();
  }

  setBrush(size) {
    this.board.setBrush(size);
    this.paint();
  }

  setColor(color) {
    this.board.setColor(color);
    this.paint();
  }

  show(on) {
    this.brushBox.hidden = !on;
    this.paletteBox.hidden = !on;
  }

  /** A key while this page draws: true if it picked a tool. */
  key(event) {
    const digit = /^Digit([1-9])$/.exec(event.code || '');
    if (!digit) return false;
    const i = Number(digit[1]) - 1;
    if (event.shiftKey && this.colors[i]) this.setColor(this.colors[i]);
    else if (!event.shiftKey && this.sizes[i]) this.setBrush(this.sizes[i]);
    else return false;
    return true;
  }

  paint() {
    for (const b of this.brushBox.children) b.setAttribute('aria-pressed', String(Number(b.dataset.size) === this.board.brush));
    for (const b of this.paletteBox.children) b.setAttribute('aria-pressed', String(b.dataset.color === this.board.color));
  }
}
