// The AI panel: the classifier's live top-3 as bars that glide between values.
//
// Rows are reused (not rebuilt) from one update to the next so the CSS width
// transition animates each bar from its old value to the new one. There is
// exactly one `.ai-row` per guess; with no guesses an `.ai-empty` note shows.
//
// Labels come as the server lets this player read them: a guess that would give
// the word away to someone still guessing arrives masked ("▮▮▮", one mark per
// letter) and is shown as a clue, marked `.is-masked`.

import { h, pct } from './util.js';

export class AIPanel {
  /**
   * @param {HTMLElement} root the panel
   * @param {string} mask the character masked labels are made of (constants.aiMask)
   */
  constructor(root, mask) {
    this.root = root;
    this.mask = mask;
    this.rowsBox = root.querySelector('#ai-rows');
    this.status = root.querySelector('#ai-status');
    this.rows = [];
    this.key = '';
  }

  /** No drawing to look at (lobby, choosing, game over). */
  idle(text, status = text) {
    this.clearRows();
    this.root.classList.remove('is-thinking', 'is-unsure', 'is-confident', 'is-masked');
    this.setStatus(status);
    this.rowsBox.replaceChildren(h('div', { class: 'ai-empty', text }));
    this.key = `idle:${text}`;
  }

  /**
   * Show a top-3.
   * @param {{label: string, p: number}[]} guesses best first
   * @param {boolean} confident whether the top guess clears the AI's confidence bar
   * @param {boolean} live true while the drawing is still going on
   */
  update(guesses, confident, live = true) {
    guesses = (guesses || []).slice(0, 3);
    const key = `${live}:${confident}:${guesses.map((g) => `${g.label}=${g.p}`).join(',')}`;
    if (key === this.key) return; // snapshots repeat the latest guess: nothing to animate
    this.key = key;
    this.root.classList.toggle('is-thinking', live);
    if (!guesses.length) {
      this.clearRows();
      this.root.classList.add('is-unsure');
      this.root.classList.remove('is-confident');
      this.setStatus('not sure yet…');
      this.rowsBox.replaceChildren(h('div', { class: 'ai-empty', text: live ? 'not sure yet… keep drawing!' : 'The AI had nothing to guess.' }));
      return;
    }
    this.root.classList.toggle('is-unsure', !confident);
    this.root.classList.toggle('is-confident', confident);
    const masked = (label) => Boolean(this.mask) && label.includes(this.mask);
    this.root.classList.toggle('is-masked', masked(guesses[0].label));
    if (confident && masked(guesses[0].label) && live) {
      this.setStatus('I know it! Do you?'); // the word is the masked row: saying it again adds nothing
    } else if (confident) {
      this.setStatus(live ? "I think it's " : 'My final answer: ', guesses[0].label);
    } else {
      this.setStatus('not sure yet…');
    }
    const empty = this.rowsBox.querySelector('.ai-empty');
    if (empty) empty.remove();
    while (this.rows.length > guesses.length) this.rows.pop().el.remove();
    while (this.rows.length < guesses.length) {
      const row = {
        el: h('div', { class: 'ai-row', 'data-testid': 'ai-row' }),
        label: h('span', { class: 'ai-label' }),
        fill: h('div', { class: 'ai-fill' }),
        p: h('span', { class: 'ai-p' }),
      };
      row.el.append(row.label, h('div', { class: 'ai-bar', 'aria-hidden': 'true' }, row.fill), row.p);
      this.rowsBox.append(row.el);
      this.rows.push(row);
    }
    guesses.forEach((guess, i) => {
      const row = this.rows[i];
      row.label.textContent = guess.label;
      row.label.title = masked(guess.label) ? 'The word itself: guess it!' : guess.label;
      row.label.classList.toggle('is-masked', masked(guess.label));
      row.el.classList.toggle('is-masked', masked(guess.label));
      row.el.dataset.label = guess.label;
      row.p.textContent = pct(guess.p);
      // Set the width on the next frame so a freshly created bar grows from 0.
      const width = pct(guess.p);
      requestAnimationFrame(() => {
        row.fill.style.width = width;
      });
    });
  }

  setStatus(text, bold, end = '!') {
    this.status.replaceChildren(text);
    if (bold) this.status.append(h('b', { class: this.mask && bold.includes(this.mask) ? 'is-masked' : null, text: bold }), end);
  }

  /** The AI named the word: a short flourish on the panel. */
  cheer() {
    this.root.classList.remove('is-cheering');
    void this.root.offsetWidth; // restart the animation
    this.root.classList.add('is-cheering');
  }

  clearRows() {
    for (const row of this.rows) row.el.remove();
    this.rows = [];
  }
}
