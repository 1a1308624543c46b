// Sound cues, synthesised with the Web Audio API: no audio files to fetch, nothing from a CDN.
//
//   turn     a drawing phase begins
//   correct  someone guessed the word     got-it  you guessed it
//   ai       the AI recognised the drawing
//   tick     each of the last 10 seconds of a drawing phase (tock: the last 3)
//
// Autoplay rules: a page may only start audio after the player touched it, so
// the AudioContext is made (or resumed) on a user gesture. A cue that comes
// before that, or while muted, is dropped, never queued: a late "your turn"
// would be wrong. Muting is remembered in the browser.
//
// Every cue also dispatches a `gtd:sound` event on the document ({cue, played}),
// which is how the browser tests see what the player would have heard.

import { setPressed, store } from './util.js';

export const MUTED_KEY = 'gtd.muted';
const GESTURES = ['pointerdown', 'keydown', 'touchend'];
const URGENT_SECONDS = 10;
const LAST_SECONDS = 3;

// Notes: [frequency Hz, start s, length s, waveform, peak gain].
const CUES = {
  turn: [[523.25, 0, 0.16, 'triangle', 0.3], [783.99, 0.13, 0.28, 'triangle', 0.3]],
  correct: [[659.25, 0, 0.12, 'sine', 0.22], [987.77, 0.1, 0.26, 'sine', 0.22]],
  'got-it': [[523.25, 0, 0.12, 'triangle', 0.26], [659.25, 0.09, 0.12, 'triangle', 0.26],
    [783.99, 0.18, 0.12, 'triangle', 0.26], [1046.5, 0.27, 0.4, 'triangle', 0.28]],
  ai: [[440, 0, 0.08, 'square', 0.07], [330, 0.1, 0.08, 'square', 0.07], [660, 0.2, 0.22, 'square', 0.08]],
  tick: [[1046.5, 0, 0.05, 'sine', 0.14]],
  tock: [[1318.5, 0, 0.09, 'sine', 0.2]],
};

/** The synthesiser and the mute switch; knows nothing about the game. */
export class Sound {
  constructor() {
    this.muted = store.get(MUTED_KEY) === '1';
    this.ctx = null;
    this.master = null;
    this.unlock = this.unlock.bind(this);
    for (const type of GESTURES) document.addEventListener(type, this.unlock, { capture: true, passive: true });
  }

  /** Called on user gestures: make or wake the AudioContext (a no-op while muted). Resolves once it runs. */
  unlock() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (this.muted || !Ctx) return Promise.resolve();
    if (!this.ctx) {
      this.ctx = new Ctx();
      this.master = this.ctx.createGain();
      this.master.gain.value = 0.8;
      this.master.connect(this.ctx.destination);
    }
    // Suspended before the first gesture; "interrupted" on iOS after a call or a background tab.
    return this.ctx.state === 'running' ? Promise.resolve() : this.ctx.resume().catch(() => {});
  }

  setMuted(muted) {
    this.muted = muted;
    store.set(MUTED_KEY, muted ? '1' : '0');
    return this.unlock();
  }

  /** Play a cue now if we may; returns whether it sounded. */
  play(cue) {
    const notes = CUES[cue];
    const played = Boolean(notes && !this.muted && this.ctx && this.ctx.state === 'running');
    if (played) {
      const t0 = this.ctx.currentTime + 0.01;
      for (const [freq, start, length, type, peak] of notes) this.note(t0 + start, freq, length, type, peak);
    }
    document.dispatchEvent(new CustomEvent('gtd:sound', { detail: { cue, played } }));
    return played;
  }

  note(at, freq, length, type, peak) {
    const osc = this.ctx.createOscillator();
    const env = this.ctx.createGain();
    osc.type = type;
    osc.frequency.value = freq;
    // A fast attack and an exponential decay: a soft pluck rather than a click.
    env.gain.setValueAtTime(0.0001, at);
    env.gain.exponentialRampToValueAtTime(peak, at + 0.012);
    env.gain.exponentialRampToValueAtTime(0.0001, at + length);
    osc.connect(env).connect(this.master);
    osc.start(at);
    osc.stop(at + length + 0.02);
  }
}

/** Which game moments make which cue. The room page calls these with what it sees. */
export class SoundCues {
  /** @param {Sound} sound */
  constructor(sound) {
    this.sound = sound;
    this.lastTick = '';
  }

  /** A new snapshot: a drawing phase starting is the turn-start cue. */
  state(prev, s, fresh) {
    // A (re)join shows a turn already under way: nothing started in front of the player.
    if (fresh || !prev) return;
    if (s.phase === 'drawing' && (prev.phase !== 'drawing' || prev.turn_id !== s.turn_id)) this.sound.play('turn');
  }

  /** A live `chat` message. */
  chat(msg, myId) {
    if (msg.kind === 'correct') this.sound.play(msg.player_id != null && msg.player_id === myId ? 'got-it' : 'correct');
    else if (msg.kind === 'ai') this.sound.play('ai');
  }

  /** Every countdown refresh: one tick per second over the last 10 seconds of drawing. */
  countdown(s, seconds) {
    if (!s || s.phase !== 'drawing' || seconds < 1 || seconds > URGENT_SECONDS) return;
    const key = `${s.turn_id}:${seconds}`;
    if (key === this.lastTick) return;
    this.lastTick = key;
    this.sound.play(seconds <= LAST_SECONDS ? 'tock' : 'tick');
  }
}

/** The mute button: aria-pressed means muted. */
export function setupSound(button) {
  const sound = new Sound();
  const paint = () => setPressed(button, sound.muted, sound.muted ? 'Sound is off: turn it on' : 'Mute sounds');
  button.addEventListener('click', () => {
    // A click is a user gesture: the context may start, and the player hears that sound is on.
    sound.setMuted(!sound.muted).then(() => {
      if (!sound.muted) sound.play('tick');
    });
    paint();
  });
  paint();
  button.hidden = false;
  return new SoundCues(sound);
}
