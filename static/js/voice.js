// The AI's voice: it says its confident top guess aloud with the browser's own
// speech synthesis (no server, no cost). Off by default; the choice is
// remembered in the browser.
//
// Pacing: a new confident top-1 is spoken at most once every MIN_GAP_MS, and
// only the newest one: while the gap runs or the synthesiser is still talking,
// a newer guess replaces the waiting one, and one that is no longer the AI's
// confident top-1 by then is dropped. Nothing is ever queued behind speech.
//
// Masking: a label the page shows masked (letters replaced by "▮" for players
// who have not guessed the word yet) is never spoken.

import { setPressed, store } from './util.js';

export const VOICE_KEY = 'gtd.voice';
export const MIN_GAP_MS = 2000;
const MASK = '▮';
const BUSY_RETRY_MS = 250;
const PHRASES = ['I see {x}.', 'Is it {x}?', 'Or maybe {x}?', 'Oh, I think it is {x}!'];

/** "a bus", "an owl", "pants", "The Eiffel Tower": good enough for Quick, Draw!'s 345 labels. */
export function withArticle(label) {
  const x = label.trim();
  if (/^the\s/i.test(x)) return x;
  if (/s$/i.test(x) && !/(ss|us)$/i.test(x)) return x; // plurals: "pants", "flip flops"
  return /^(?!uni|eu|one)[aeiou]|^hour/i.test(x) ? `an ${x}` : `a ${x}`;
}

export class Voice {
  /**
   * @param {object} [deps] the browser's speech synthesis by default; tests pass their own
   */
  constructor({
    synth = window.speechSynthesis,
    Utterance = window.SpeechSynthesisUtterance,
    now = () => performance.now(),
    on = store.get(VOICE_KEY) === '1',
  } = {}) {
    this.synth = synth;
    this.Utterance = Utterance;
    this.now = now;
    this.on = on;
    this.latest = null; // the confident top-1 we would say now
    this.lastSaid = null;
    this.lastAt = -Infinity;
    this.said = 0; // in this turn: picks the phrase
    this.turn = null;
    this.timer = null;
  }

  get available() {
    return Boolean(this.synth && this.Utterance);
  }

  setOn(on) {
    this.on = on;
    store.set(VOICE_KEY, on ? '1' : '0');
    if (!on) this.silence();
  }

  /** The room's phase: speech belongs to one drawing; anything else stops it. */
  follow(state) {
    const turn = state && state.phase === 'drawing' ? state.turn_id : null;
    if (turn === this.turn) return;
    this.turn = turn;
    this.lastSaid = null;
    this.said = 0;
    this.silence();
  }

  /** An `ai` message: its top-3, best first, and whether the top one clears the confidence bar. */
  hear(guesses, confident) {
    if (this.turn === null) return;
    const top = confident && guesses && guesses.length ? String(guesses[0].label || '') : '';
    this.latest = top && !top.includes(MASK) ? top : null;
    this.pump();
  }

  pump() {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.on || !this.available || this.turn === null || !this.latest || this.latest === this.lastSaid) return;
    const wait = this.lastAt + MIN_GAP_MS - this.now();
    if (wait > 0 || this.synth.speaking || this.synth.pending) {
      this.timer = setTimeout(() => this.pump(), Math.max(wait, BUSY_RETRY_MS));
      return;
    }
    this.say(this.latest);
  }

  say(label) {
    const phrase = PHRASES[Math.min(this.said, PHRASES.length - 1)].replace('{x}', withArticle(label));
    const utterance = new this.Utterance(phrase);
    utterance.lang = 'en-US';
    utterance.rate = 1.05;
    this.lastSaid = label;
    this.lastAt = this.now();
    this.said += 1;
    this.synth.speak(utterance);
  }

  /** Stop talking now and forget what was waiting. */
  silence() {
    this.latest = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.available && (this.synth.speaking || this.synth.pending)) this.synth.cancel();
  }
}

/** The voice button (aria-pressed means on); hidden where the browser cannot speak. */
export function setupVoice(button) {
  const voice = new Voice();
  if (!voice.available) return voice;
  const paint = () => setPressed(button, voice.on,
    voice.on ? 'The AI says its guesses aloud: turn off' : 'Let the AI say its guesses aloud');
  button.addEventListener('click', () => {
    voice.setOn(!voice.on);
    paint();
    // Said inside the click: some browsers (iOS Safari) only let speech start from a gesture.
    if (voice.on) {
      voice.synth.speak(new voice.Utterance('Voice on.'));
      voice.pump(); // a guess already on screen is said once that is done
    }
  });
  paint();
  button.hidden = false;
  return voice;
}
