// The phase screens laid over the canvas (lobby, choosing, turn end) and the
// game-over results. Each `render*` function is idempotent: it is called with
// every snapshot and only touches its own elements.

import { $, h, icon, pct, secs } from './util.js';
import { avatar, ranked } from './players.js';

const range = (lo, hi, step = 1) => Array.from({ length: Math.floor((hi - lo) / step) + 1 }, (_, i) => lo + i * step);

// Setting ranges mirror game/rules.py SETTING_RANGES.
const SETTINGS = {
  rounds: { el: '#set-rounds', values: range(1, 10), label: (v) => `${v} round${v === 1 ? '' : 's'}` },
  draw_seconds: { el: '#set-draw-seconds', values: range(30, 240, 10), label: (v) => `${v} seconds` },
  word_choices: { el: '#set-word-choices', values: range(1, 5), label: (v) => `${v} word${v === 1 ? '' : 's'}` },
  max_players: { el: '#set-max-players', values: range(2, 16), label: (v) => `${v} players` },
};

// --- lobby -------------------------------------------------------------------------

export function setupLobby(send) {
  for (const [key, spec] of Object.entries(SETTINGS)) {
    const select = $(spec.el);
    select.replaceChildren(...spec.values.map((v) => h('option', { value: String(v), text: spec.label(v) })));
    select.addEventListener('change', () => send({ type: 'settings', [key]: Number(select.value) }));
  }
  const pub = $('#set-public');
  pub.addEventListener('change', () => send({ type: 'settings', is_public: pub.checked }));
  $('#start-button').addEventListener('click', () => send({ type: 'start' }));
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
  for (const [key, spec] of Object.entries(SETTINGS)) {
    const select = $(spec.el);
    setSelect(select, state[key], spec.label);
    select.disabled = !iAmHost;
  }
  const pub = $('#set-public');
  pub.checked = state.is_public;
  pub.disabled = !iAmHost;

  const humans = state.players.filter((p) => !p.is_ai && p.connected).length;
  const start = $('#start-button');
  const hint = $('#lobby-hint');
  start.hidden = !iAmHost;
  start.disabled = humans < 2;
  if (iAmHost) {
    hint.replaceChildren(humans < 2 ? 'Waiting for at least one more player… share the code!' : `${humans} players ready. The AI plays too!`);
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

  const verdict = $('#ai-verdict');
  const got = reveal.ai_guessed_ms !== null && reveal.ai_guessed_ms !== undefined;
  verdict.classList.toggle('is-miss', !got);
  verdict.dataset.recognised = got ? 'yes' : 'no';
  verdict.textContent = got
    ? `The AI recognised it after ${secs(reveal.ai_guessed_ms)}!`
    : "The AI didn't recognise it.";
}

// --- game over ------------------------------------------------------------------------------

export function renderGameOver(state, meId, opts) {
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
      if (box.dataset.key === key) renderGallery(box, data.drawings || []);
    })
    .catch(() => {
      if (box.dataset.key !== key) return;
      box.dataset.key = '';
      box.replaceChildren(h('p', { class: 'empty', text: 'The drawings could not be loaded.' }));
    });
}

function renderGallery(box, drawings) {
  if (!drawings.length) {
    box.replaceChildren(h('p', { class: 'empty', text: 'No drawings this game.' }));
    return;
  }
  box.replaceChildren(...drawings.map((item) => {
    const ai = (item.ai || []).map((g) => `${g.label} ${pct(g.p)}`).join(' · ');
    return h('figure', { class: 'gallery-item', 'data-testid': 'gallery-item', dataset: { aiRight: String(item.ai_right) }, style: { margin: '0' } },
      h('img', { class: 'gallery-drawing', src: item.thumb_url, alt: `Drawing of ${item.word}`, loading: 'lazy' }),
      h('figcaption', { class: 'gallery-meta' },
        h('span', { class: 'gallery-word' }, h('span', { text: item.word }),
          h('span', { class: `verdict ${item.ai_right ? 'is-right' : 'is-wrong'}`, title: item.ai_right ? 'The AI got it' : 'The AI missed it' }, icon(item.ai_right ? 'check' : 'x'))),
        h('span', { class: 'gallery-by', text: `by ${item.drawer}` }),
        h('span', { class: 'gallery-ai' }, icon('robot'), ai ? ` ${ai}` : ' no guess')));
  }));
}
