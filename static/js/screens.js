// The phase screens laid over the canvas (lobby, choosing, turn end) and the
// game-over results. Each `render*` function is idempotent: it is called with
// every snapshot and only touches its own elements.

import { $, $$, h, icon, pct, secs, store } from './util.js';
import { avatar, ranked } from './players.js';
import { GAME } from './constants.js';
import { ordinal } from './race.js';

/** lo..hi by `step`, hi always included (the server's range is the truth, the step only thins the menu). */
const range = (lo, hi, step = 1) => {
  const values = Array.from({ length: Math.floor((hi - lo) / step) + 1 }, (_, i) => lo + i * step);
  if (values[values.length - 1] !== hi) values.push(hi);
  return values;
};
const plural = (v, one, many = `${one}s`) => `${v} ${v === 1 ? one : many}`;

// The number settings' menus: ranges from the server (game/rules.py SETTING_RANGES via the page).
const SETTINGS = {
  rounds: { el: '#set-rounds', label: (v) => plural(v, 'round') },
  draw_seconds: { el: '#set-draw-seconds', step: 10, label: (v) => `${v} seconds` },
  word_choices: { el: '#set-word-choices', label: (v) => plural(v, 'word') },
  max_players: { el: '#set-max-players', label: (v) => `${v} players` },
  solo_words: { el: '#set-solo-words', label: (v) => plural(v, 'word') },
};
export const AI_MODE_LABELS = {
  shown: 'AI guesses shown',
  hidden: 'AI guesses hidden until you have guessed',
  off: 'AI off',
};
const MODE_NAMES = { classic: 'Classic', solo: 'Solo', race: 'Race' };
const MODE_LINES = {
  classic: 'Take turns drawing while the others, and the AI, guess.',
  solo: 'You draw, the AI guesses: can it recognise every drawing in time?',
  race: 'Everyone draws the same word at once; the AI judges who it recognises first.',
};
// Fewest connected players to start, by mode (game/rules.py MIN_HUMANS, from the page's constants).
const minHumans = (mode) => GAME.minHumans[mode];

// Solo: how many words the player likes to draw, remembered in the browser (home page, lobby, game over).
export const SOLO_WORDS_KEY = 'gtd.soloWords';
export function soloWordsWanted() {
  const [lo, hi] = GAME.settingRanges.solo_words;
  const n = Number(store.get(SOLO_WORDS_KEY));
  return Number.isInteger(n) && n >= lo && n <= hi ? n : null;
}

function fillNumbers(select, key, label) {
  const spec = SETTINGS[key];
  const [lo, hi] = GAME.settingRanges[key];
  select.replaceChildren(...range(lo, hi, spec.step || 1).map((v) => h('option', { value: String(v), text: label(v) })));
}

// --- lobby -------------------------------------------------------------------------

export function setupLobby(send) {
  for (const [key, spec] of Object.entries(SETTINGS)) {
    const select = $(spec.el);
    fillNumbers(select, key, spec.label);
    select.addEventListener('change', () => {
      if (key === 'solo_words') store.set(SOLO_WORDS_KEY, select.value);
      send({ type: 'settings', [key]: Number(select.value) });
    });
  }
  const aiMode = $('#set-ai-mode');
  aiMode.replaceChildren(...GAME.aiModes.map((mode) => h('option', { value: mode, text: AI_MODE_LABELS[mode] || mode })));
  aiMode.addEventListener('change', () => send({ type: 'settings', ai_mode: aiMode.value }));
  const pub = $('#set-public');
  pub.addEventListener('change', () => send({ type: 'settings', is_public: pub.checked }));
  $('#start-button').addEventListener('click', () => send({ type: 'start' }));

  // Solo's game over: the words of the next game beside "Play again".
  const again = $('#again-words');
  fillNumbers(again, 'solo_words', SETTINGS.solo_words.label);
  again.addEventListener('change', () => {
    store.set(SOLO_WORDS_KEY, again.value);
    send({ type: 'settings', solo_words: Number(again.value) });
  });
}

function setSelect(select, value, label) {
  const v = String(value);
  if (![...select.options].some((o) => o.value === v)) {
    // A value the menu does not list (set by another client): show it anyway.
    select.append(h('option', { value: v, text: label(value) }));
  }
  if (select.value !== v) select.value = v;
}

export function renderLobby(state, me) {
  const host = state.players.find((p) => p.is_host);
  const iAmHost = Boolean(me && me.is_host);
  const mode = state.mode;
  for (const setting of $$('#settings [data-modes]')) setting.hidden = !setting.dataset.modes.split(' ').includes(mode);
  for (const [key, spec] of Object.entries(SETTINGS)) {
    const select = $(spec.el);
    setSelect(select, state[key], spec.label);
    select.disabled = !iAmHost;
  }
  setSelect($('#set-ai-mode'), state.ai_mode, (v) => AI_MODE_LABELS[v] || v);
  $('#set-ai-mode').disabled = !iAmHost;
  const pub = $('#set-public');
  pub.checked = state.is_public;
  pub.disabled = !iAmHost;

  const badge = $('#lobby-mode');
  badge.dataset.mode = mode;
  badge.replaceChildren(h('span', { class: 'pill mode-pill', text: MODE_NAMES[mode] || mode }), ` ${MODE_LINES[mode] || ''}`);
  $('.lobby-invite').hidden = mode === 'solo'; // one seat: nobody to invite

  const humans = state.players.filter((p) => !p.is_ai && p.connected).length;
  const needed = minHumans(mode);
  const start = $('#start-button');
  const hint = $('#lobby-hint');
  start.hidden = !iAmHost;
  start.disabled = humans < needed;
  start.textContent = mode === 'race' ? 'Start the race' : mode === 'solo' ? "Let's draw!" : 'Start game';
  if (iAmHost) {
    let text = `${humans} players ready. The AI plays too!`;
    if (humans < needed) text = 'Waiting for at least one more player… share the code!';
    else if (mode === 'solo') text = `${plural(state.solo_words, 'word')} to draw. Ready?`;
    else if (mode === 'race') text = `${humans} racers ready. The AI is the judge!`;
    else if (state.ai_mode === 'off') text = `${humans} players ready.`;
    hint.replaceChildren(text);
  } else {
    hint.replaceChildren(h('span', { class: 'waiting' }, h('span', { class: 'spinner' }),
      host ? `Waiting for ${host.name} to start the game…` : 'Waiting for the host to start the game…'));
  }
}

// --- choosing --------------------------------------------------------------------------

export function renderChoosing(state, me, send) {
  const drawer = state.players.find((p) => p.id === state.drawer_id);
  const iDraw = Boolean(me && state.drawer_id === me.id);
  const title = $('#choosing-title');
  const box = $('#choices');
  const overlay = $('#choosing');
  overlay.classList.toggle('is-dim', !iDraw);
  if (iDraw) {
    title.textContent = 'Your turn! Pick a word to draw';
    const choices = state.choices || [];
    const key = choices.join('|');
    if (box.dataset.key !== key) {
      box.dataset.key = key;
      box.replaceChildren(...choices.map((word) => h('button', {
        class: 'btn btn-yellow word-choice', type: 'button', 'data-testid': 'word-choice', dataset: { word }, text: word,
        onclick: (e) => {
          for (const b of box.querySelectorAll('button')) b.disabled = true;
          e.currentTarget.classList.add('is-picked');
          send({ type: 'choose_word', word });
        },
      })));
    }
  } else {
    title.textContent = `${drawer ? drawer.name : 'Someone'} is choosing a word…`;
    box.replaceChildren();
    box.dataset.key = '';
  }
  overlay.dataset.drawer = iDraw ? 'me' : 'other';
}

/** Countdown text under the choices (called by the clock tick). */
export function tickChoosing(secondsLeft, iDraw) {
  $('#choosing-sub').textContent = iDraw
    ? `${secondsLeft} s left, or a word is picked for you`
    : `Get ready to guess! (${secondsLeft} s)`;
}

// --- the rules ---------------------------------------------------------------------------

/** "How scoring works", in the lobby and beside the players: the server's own words (rule_lines). */
export function renderRules(state) {
  const lines = state.rule_lines || [];
  const key = lines.join('\n');
  for (const list of $$('.rule-lines')) {
    if (list.dataset.key === key) continue;
    list.dataset.key = key;
    list.replaceChildren(...lines.map((line) => h('li', { 'data-testid': 'rule-line', text: line })));
  }
  for (const box of $$('.rules')) box.hidden = !lines.length;
}

// --- turn end ---------------------------------------------------------------------------

const norm = (s) => String(s || '').toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, ' ').trim();

/**
 * @param {object} state snapshot with `reveal`
 * @param {Map<number, number>|null} baseScores scores when the turn began (for "+N"), if known
 */
export function renderTurnEnd(state, baseScores) {
  const reveal = state.reveal;
  if (!reveal) return;
  $('#reveal-word').textContent = reveal.word;
  $('#reveal-word').dataset.by = `drawn by ${reveal.drawer}`; // compact phone layout shows it inside the badge
  $('#reveal-drawer').textContent = `drawn by ${reveal.drawer}`;

  const delta = (player) => (baseScores && baseScores.has(player.id) ? player.score - baseScores.get(player.id) : null);
  const byName = new Map();
  for (const p of state.players) if (!byName.has(p.name)) byName.set(p.name, p);
  const list = $('#reveal-guessed');
  const rows = [];
  for (const name of reveal.guessed) {
    const player = byName.get(name);
    const d = player ? delta(player) : null;
    rows.push(h('li', {}, h('span', {}, icon(player && player.is_ai ? 'robot' : 'check'), ` ${name}`),
      d !== null ? h('span', { class: `delta${d ? '' : ' is-zero'}`, text: `+${d}` }) : ''));
  }
  if (!rows.length) rows.push(h('li', { class: 'muted' }, h('span', { text: 'Nobody guessed it!' })));
  const drawer = state.players.find((p) => p.id === state.drawer_id);
  if (drawer) {
    const d = delta(drawer);
    rows.push(h('li', {}, h('span', {}, icon('pencil'), ` ${drawer.name} (drawer)`),
      d !== null ? h('span', { class: `delta${d ? '' : ' is-zero'}`, text: `+${d}` }) : ''));
  }
  list.replaceChildren(...rows);

  const word = norm(reveal.word);
  const timeline = $('#ai-timeline');
  const entries = (reveal.ai_timeline || []).filter((e) => Array.isArray(e.guesses) && e.guesses.length);
  timeline.replaceChildren(...entries.map((entry) => {
    const [label, p] = entry.guesses[0];
    const right = norm(label) === word;
    return h('li', { class: `timeline-row${right ? ' is-right' : ''}`, 'data-testid': 'ai-timeline-row' },
      h('span', {}, h('span', { class: 't', text: `${secs(entry.ms)}:` }), ` ${label} ${pct(p)}`),
      right ? icon('check') : '');
  }));
  if (!entries.length) timeline.append(h('li', { text: 'No guesses: the canvas stayed empty.' }));

  // No AI in this room: nothing it saw to show.
  timeline.closest('.reveal-box').hidden = state.ai_mode === 'off';
  $('.reveal-grid').classList.toggle('is-single', state.ai_mode === 'off');

  const verdict = $('#ai-verdict');
  const got = reveal.ai_guessed_ms !== null && reveal.ai_guessed_ms !== undefined;
  verdict.classList.toggle('is-miss', !got);
  verdict.dataset.recognised = got ? 'yes' : 'no';
  verdict.textContent = got
    ? `The AI recognised it after ${secs(reveal.ai_guessed_ms)}!`
    : "The AI didn't recognise it.";
}

/** Solo: the AI's verdict on the drawing, big on the canvas ("Oh, I know, it's bus!"). */
export function renderSoloEnd(state) {
  const reveal = state.reveal;
  if (!reveal) return;
  const canvas = (reveal.canvases || [])[0];
  const got = reveal.ai_guessed_ms != null;
  const overlay = $('#solo-end');
  overlay.classList.toggle('is-got-it', got);
  overlay.dataset.recognised = got ? 'yes' : 'no';
  const line = $('#solo-end-line');
  const sub = $('#solo-end-sub');
  if (got) {
    line.replaceChildren("Oh, I know, it's ", h('b', { text: reveal.word }), '!');
    sub.textContent = `Recognised in ${secs(reveal.ai_guessed_ms)}`;
  } else {
    line.replaceChildren("Sorry, I couldn't guess it: it was ", h('b', { text: reveal.word }));
    const seen = canvas && canvas.ai && canvas.ai.length ? canvas.ai.map((g) => `${g.label} ${pct(g.p)}`).join(' · ') : '';
    sub.textContent = seen ? `I thought: ${seen}` : reveal.reason === 'time_up' ? 'Time is up.' : '';
  }
}

/**
 * Race: the round's places (the order in which the AI recognised the drawings), then everyone it did not.
 * @param {Map<number, number>|null} baseScores scores when the round began (for "+N"), if known
 */
export function renderRaceEnd(state, meId, baseScores) {
  const reveal = state.reveal;
  if (!reveal) return;
  $('#race-end-word').textContent = reveal.word;
  const places = new Map((state.racers || []).map((r) => [r.player_id, r.place]));
  const scores = new Map(state.players.map((p) => [p.id, p.score]));
  const rows = (reveal.canvases || []).map((c) => ({ ...c, place: places.get(c.owner_id) || null }));
  rows.sort((a, b) => (a.place || Infinity) - (b.place || Infinity));
  $('#race-places').replaceChildren(...rows.map((row) => {
    const delta = baseScores && baseScores.has(row.owner_id) && scores.has(row.owner_id)
      ? scores.get(row.owner_id) - baseScores.get(row.owner_id) : null;
    const top = row.ai && row.ai.length ? row.ai[0] : null;
    const detail = row.place
      ? (row.recognised_ms != null ? secs(row.recognised_ms) : 'recognised')
      : `not recognised${top ? ` (AI: ${top.label} ${pct(top.p)})` : ''}`;
    return h('li', { class: `race-row${row.place ? ' is-placed' : ''}${row.owner_id === meId ? ' is-me' : ''}`, 'data-testid': 'race-row', dataset: { place: row.place ? String(row.place) : '' } },
      h('span', { class: 'race-row-place', text: row.place ? ordinal(row.place) : '–' }),
      h('span', { class: 'race-row-name', text: `${row.name}${row.owner_id === meId ? ' (you)' : ''}` }),
      h('span', { class: 'race-row-detail', text: detail }),
      delta !== null ? h('span', { class: `delta${delta ? '' : ' is-zero'}`, text: `+${delta}` }) : h('span'));
  }));
}

// --- game over ------------------------------------------------------------------------------

export function renderGameOver(state, meId, opts = {}) {
  const solo = state.mode === 'solo';
  $('#game-over-title').replaceChildren(icon('trophy'), solo ? ' Your drawings' : ' Game over!');
  $('#results').hidden = solo;
  $('#solo-summary').hidden = !solo;
  $('#gallery-title').textContent = solo ? 'What the AI saw' : 'The gallery';
  $('#gallery').classList.toggle('is-solo', solo);
  const players = ranked(state.players);
  const podium = $('#podium');
  // Visual order 2nd, 1st, 3rd.
  const slots = [1, 0, 2].filter((i) => i < players.length);
  podium.replaceChildren(...slots.map((i) => {
    const p = players[i];
    return h('div', { class: `podium-place podium-${i + 1}`, 'data-testid': 'podium-place', dataset: { place: String(i + 1) } },
      avatar(p),
      h('span', { class: 'podium-name', text: p.name }),
      h('div', { class: 'podium-block' }, h('span', { class: 'medal', text: String(i + 1) }), h('span', { class: 'pts', text: `${p.score} pts` })));
  }));

  $('#scoreboard').replaceChildren(...players.map((p, i) => h('li', { class: p.id === meId ? 'is-me' : '', 'data-testid': 'score-row' },
    h('span', { class: 'rank', text: `#${i + 1}` }),
    h('span', { class: 'nm' }, p.is_ai ? icon('robot') : '', `${p.is_ai ? ' ' : ''}${p.name}${p.id === meId ? ' (you)' : ''}`),
    h('span', { class: 'sc', text: String(p.score) }))));

  const me = state.players.find((p) => p.id === meId);
  const iAmHost = Boolean(me && me.is_host);
  $('#play-again').hidden = !iAmHost;
  $('#play-again-wait').hidden = iAmHost;
  $('#again-words-box').hidden = !(solo && iAmHost);
  if (solo) setSelect($('#again-words'), state.solo_words, SETTINGS.solo_words.label);

  // The gallery comes over HTTP (its size has no bound a state frame could carry), once per game.
  const box = $('#gallery');
  const key = `${state.game_no}:${state.gallery_url}`;
  if (box.dataset.key === key && !opts.force) return;
  box.dataset.key = key;
  if (!state.gallery_url) {
    box.replaceChildren(h('p', { class: 'empty', text: 'No drawings this game.' }));
    return;
  }
  box.replaceChildren(h('p', { class: 'empty', text: 'Loading the drawings…' }));
  fetch(state.gallery_url, { headers: { Accept: 'application/json' } })
    .then((response) => (response.ok ? response.json() : Promise.reject(new Error(String(response.status)))))
    .then((data) => {
      if (box.dataset.key !== key) return;
      const drawings = data.drawings || [];
      if (solo) {
        renderSoloSummary(drawings, me);
        renderSoloGallery(box, drawings);
      } else {
        renderGallery(box, drawings);
      }
    })
    .catch(() => {
      if (box.dataset.key !== key) return;
      box.dataset.key = '';
      box.replaceChildren(h('p', { class: 'empty', text: 'The drawings could not be loaded.' }));
    });
}

function verdictBadge(item) {
  return h('span', { class: `verdict ${item.ai_right ? 'is-right' : 'is-wrong'}`, title: item.ai_right ? 'The AI got it' : 'The AI missed it' },
    icon(item.ai_right ? 'check' : 'x'));
}

function renderGallery(box, drawings) {
  if (!drawings.length) {
    box.replaceChildren(h('p', { class: 'empty', text: 'No drawings this game.' }));
    return;
  }
  box.replaceChildren(...drawings.map((item) => {
    const ai = (item.ai || []).map((g) => `${g.label} ${pct(g.p)}`).join(' · ');
    const by = item.ai_right && item.ai_ms != null ? `by ${item.drawer} · AI in ${secs(item.ai_ms)}` : `by ${item.drawer}`;
    return h('figure', { class: 'gallery-item', 'data-testid': 'gallery-item', dataset: { aiRight: String(item.ai_right) } },
      h('img', { class: 'gallery-drawing', src: item.thumb_url, alt: `Drawing of ${item.word}`, loading: 'lazy' }),
      h('figcaption', { class: 'gallery-meta' },
        h('span', { class: 'gallery-word' }, h('span', { text: item.word }), verdictBadge(item)),
        h('span', { class: 'gallery-by', text: by }),
        h('span', { class: 'gallery-ai', title: ai }, icon('robot'), ai ? ` ${ai}` : ' no guess')));
  }));
}

/** Solo's headline: how many drawings the AI recognised, and the score. */
function renderSoloSummary(drawings, me) {
  const right = drawings.filter((d) => d.ai_right).length;
  const box = $('#solo-summary');
  box.replaceChildren(
    h('div', { class: 'solo-summary-face', 'aria-hidden': 'true' }, icon('robot')),
    h('div', { class: 'solo-summary-text' },
      h('strong', { 'data-testid': 'solo-score-line', text: `The AI recognised ${right} of your ${plural(drawings.length, 'drawing')}.` }),
      h('span', { text: me ? `You scored ${me.score} points.` : '' })));
}

/** Solo's end screen, like Quick, Draw!'s: each drawing, whether the AI got it and how fast, and its top-3. */
function renderSoloGallery(box, drawings) {
  if (!drawings.length) {
    box.replaceChildren(h('p', { class: 'empty', text: 'No drawings this game.' }));
    return;
  }
  box.replaceChildren(...drawings.map((item) => {
    const when = item.ai_right
      ? (item.ai_ms != null ? `Recognised in ${secs(item.ai_ms)}` : 'Recognised')
      : 'Not recognised';
    const bars = (item.ai || []).map((g) => h('li', { class: 'solo-guess', 'data-testid': 'solo-guess' },
      h('span', { class: 'solo-guess-label', text: g.label, title: g.label }),
      h('span', { class: 'solo-guess-bar', 'aria-hidden': 'true' }, h('span', { class: 'solo-guess-fill', style: { width: pct(g.p) } })),
      h('span', { class: 'solo-guess-p', text: pct(g.p) })));
    return h('figure', { class: 'gallery-item is-solo', 'data-testid': 'gallery-item', dataset: { aiRight: String(item.ai_right) } },
      h('img', { class: 'gallery-drawing', src: item.thumb_url, alt: `Your drawing of ${item.word}`, loading: 'lazy' }),
      h('figcaption', { class: 'gallery-meta' },
        h('span', { class: 'gallery-word' }, h('span', { text: item.word }), verdictBadge(item)),
        h('span', { class: `solo-when ${item.ai_right ? 'is-right' : 'is-wrong'}`, 'data-testid': 'solo-when', text: when }),
        bars.length ? h('ol', { class: 'solo-guesses' }, bars) : h('span', { class: 'gallery-ai', text: 'The AI had no guess.' })));
  }));
}
