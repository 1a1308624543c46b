// The room page: joins over the WebSocket, keeps the latest snapshot and
// renders everything from it. Module map:
//   constants.js  the game's constants, rendered into the page by the server
//   net.js      socket, reconnect with backoff, keep-alive
//   canvas.js   p5 drawing board, pointer input, point batching
//   palette.js  brush sizes and colours
//   ai.js       the AI's top-3 bars
//   chat.js     chat log
//   players.js  player list
//   race.js     race rounds: the other racers' live thumbnails
//   screens.js  lobby / choosing / turn-end overlays and game-over results
//
// Modes (the snapshot's `mode`): classic (one draws, the others and the AI
// guess), solo (one player draws, the AI guesses; the page starts the game by
// itself) and race (everyone draws the same word on their own board).
//
// Server truth arrives two ways: `state` snapshots (personalised, versioned,
// complete) after every change, and events (`points`, `stroke`, `canvas`, `ai`,
// `chat`, `error`) in between. Rendering is driven by the snapshot; events
// only patch the canvas, the AI bars and the chat.

import { $, h, icon, store, tokenKey, NAME_KEY, savedName, cleanName, nameError, toast, copyText } from './util.js';
import { GAME } from './constants.js';
import { Connection, roomSocketUrl, CLOSE_NO_ROOM } from './net.js';
import { Board } from './canvas.js';
import { DrawingTools } from './palette.js';
import { AIPanel } from './ai.js';
import { ChatLog } from './chat.js';
import { renderPlayers, renderPlayerCount } from './players.js';
import { RaceStrip, ordinal } from './race.js';
import {
  setupLobby, renderLobby, renderChoosing, tickChoosing, renderTurnEnd, renderSoloEnd, renderRaceEnd, renderGameOver,
  renderRules, soloWordsWanted,
} from './screens.js';
import { setupSound } from './sound.js';
import { setupVoice } from './voice.js';

// How long the "Draw: bus" card shows at the start of a solo word or a race round.
const INTRO_MS = 1800;
// A refusal that comes this soon after a chat line was sent is about that line: shown beside the input.
const CHAT_ANSWER_MS = 5000;
// The server's clock as this page estimates it moves back only for a change this large (not a slow frame).
const CLOCK_JUMP_MS = 1500;

const PHASE_LABELS = {
  lobby: 'Waiting for players',
  choosing: 'Choosing a word',
  drawing: 'Drawing',
  turn_end: 'Turn over',
  game_over: 'Game over',
};

const app = $('#app');
const CODE = app.dataset.code;

/** Everything this page knows. */
const S = {
  state: null,
  playerId: null,
  name: '',
  joined: false,
  everJoined: false,
  leaving: false,
  clockOffset: 0, // server clock minus ours, from the snapshots' server_ms
  aiVersion: -1, // newest `ai` message version shown for the current turn
  baseScores: null, // scores when the current turn began (turn-end "+N")
  resultsOpen: false,
  autoStarted: null, // solo: the game_no of the lobby this page already started a game from
  sentLine: null, // {text, at}: the chat line sent last, until the server echoes it or refuses it
  introTimer: null,
};

const serverNow = () => Date.now() + S.clockOffset;
const me = () => S.state?.players.find((p) => p.id === S.playerId) || null;
const iAmDrawing = () => Boolean(S.state && S.state.can_draw && S.joined);
const mode = () => S.state?.mode || app.dataset.mode || 'classic';
// The canvas the big board shows: the drawer's, or in a race (and solo) this player's own.
const boardOwner = () => (S.state && S.state.mode !== 'classic' ? S.playerId : S.state?.drawer_id);
// Where the AI is a player of its own, and shows its guesses at all (ai_mode "off": nowhere).
const aiPlays = () => !S.state || S.state.mode !== 'classic' || S.state.ai_mode !== 'off';

// --- connection ---------------------------------------------------------------------

const conn = new Connection(roomSocketUrl(CODE), {
  onOpen() {
    setBanner('Joining…');
    const token = store.get(tokenKey(CODE));
    conn.send({ type: 'join', name: S.name, ...(token ? { token } : {}) });
  },
  onMessage: handleMessage,
  onClose(event, willRetry) {
    S.joined = false;
    board.setCanDraw(false);
    if (S.leaving) return;
    if (event.code === CLOSE_NO_ROOM) {
      block('This room is gone', 'There is no room with this code any more. Rooms close a minute after everyone has left.');
    } else if (willRetry) {
      setBanner('Connection lost. Reconnecting…');
    }
  },
  onRetry(delay) {
    setBanner(`Connection lost. Reconnecting in ${Math.max(1, Math.round(delay / 1000))} s…`);
  },
});

function send(message) {
  const ok = conn.send(message);
  if (!ok && message.type !== 'points') toast('Not connected right now: try again in a moment.', 'error');
  return ok;
}

function handleMessage(msg) {
  const turnId = S.state?.turn_id;
  switch (msg.type) {
    case 'welcome':
      S.playerId = msg.player_id;
      S.joined = true;
      store.set(tokenKey(CODE), msg.token);
      conn.connected();
      setBanner(null);
      if (S.everJoined) chat.local('Reconnected.');
      S.everJoined = true;
      applyState(msg.state, true);
      break;
    case 'state':
      applyState(msg.state, false);
      break;
    case 'points':
      if (msg.turn_id === turnId && msg.owner === boardOwner() && !iAmDrawing()) {
        board.addPoints(msg.stroke, msg.points, msg.width, msg.color);
      }
      break;
    case 'stroke':
      if (msg.turn_id !== turnId) break;
      if (msg.owner === boardOwner()) {
        board.setStroke(msg.stroke, msg.points, msg.width, msg.color);
        if (board.hasGap()) askForCanvas();
      } else if (mode() === 'race') {
        race.stroke(msg);
      }
      break;
    case 'canvas':
      if (msg.turn_id !== turnId) break;
      if (msg.owner === boardOwner()) board.applyCanvas(msg.start, msg.total, msg.strokes);
      else if (mode() === 'race') race.canvas(msg);
      break;
    case 'ai':
      if (msg.turn_id !== turnId) break;
      if (msg.owner === boardOwner() && msg.version >= S.aiVersion && S.state.phase === 'drawing' && aiPlays()) {
        S.aiVersion = msg.version;
        ai.update(msg.guesses, msg.confident, true);
        voice.hear(msg.guesses, msg.confident); // playtest hook: the AI's voice
      } else if (msg.owner !== boardOwner() && mode() === 'race') {
        race.ai(msg);
      }
      break;
    case 'chat_history':
      chat.history(msg.lines);
      break;
    case 'chat':
      chat.add(msg);
      cues.chat(msg, S.playerId); // playtest hook: sound cues
      if (msg.kind === 'ai') ai.cheer();
      if (msg.player_id != null && msg.player_id === S.playerId) S.sentLine = null; // taken: nothing to refuse
      break;
    case 'error':
      handleError(msg);
      break;
    default:
      break; // pong and anything newer than this page
  }
}

/** A finished stroke went missing (a dropped frame): ask for the whole canvas, at most every few seconds. */
let canvasAskedAt = 0;
function askForCanvas() {
  if (iAmDrawing() || Date.now() - canvasAskedAt < 3000) return;
  canvasAskedAt = Date.now();
  conn.send({ type: 'sync' });
}

/** A refused chat line: said beside the input (not in a toast the player may miss), the line given back to edit. */
function refuseLine(msg) {
  const line = S.sentLine;
  S.sentLine = null;
  const input = $('#chat-input');
  if (line && !input.value) input.value = line.text;
  const box = $('#chat-error');
  box.textContent = msg.message || 'That line was not sent.';
  box.hidden = false;
  chat.follow(true);
}

function clearChatError() {
  $('#chat-error').hidden = true;
  $('#chat-error').textContent = '';
}


/** The join was refused for its name: ask for another (saying why) and join with it. */
function askNameAndJoin(why) {
  setBanner(null);
  askName(why).then((name) => {
    S.name = name;
    const token = store.get(tokenKey(CODE));
    if (!conn.send({ type: 'join', name, ...(token ? { token } : {}) })) conn.retryNow();
  });
}
function handleError(msg) {
  if (msg.code === 'gives_word_away' || (S.sentLine && Date.now() - S.sentLine.at < CHAT_ANSWER_MS
      && ['rate_limited', 'empty', 'invalid_message'].includes(msg.code) && S.joined)) {
    refuseLine(msg);
    return;
  }
  switch (msg.code) {
    case 'replaced':
      conn.stop();
      block('Playing somewhere else', 'This room is open in another tab or window, which has your seat now.', true,
        'Play here');
      break;
    case 'banned':
    case 'address_full':
    case 'too_many_connections':
      conn.stop();
      block("You can't join right now", msg.message, true);
      break;
    case 'bad_name':
      if (!S.joined && conn.isOpen) {
        askNameAndJoin(msg.message);
      }
      break;
    case 'kicked':
      conn.stop();
      store.del(tokenKey(CODE));
      block('You were removed', 'The host removed you from this room.');
      break;
    case 'room_full':
      conn.stop();
      block('This room is full', 'Every seat is taken. Try again when someone leaves, or start your own room.', true);
      break;
    case 'no_room':
      conn.stop();
      block('This room is gone', 'There is no room with this code any more.');
      break;
    case 'already_joined':
      break;
    case 'invalid_message':
      if (!S.joined && conn.isOpen) {
        // The join itself was refused (a name the server does not accept): ask again.
        askNameAndJoin(msg.message);
        break;
      }
      toast(msg.message || 'Something went wrong.', 'error');
      break;
    default:
      toast(msg.message || 'Something went wrong.', 'error');
      // A refused request changes nothing on the server, so no new snapshot
      // follows: redraw from the one we have to undo optimistic UI (a settings
      // menu already showing the refused value, disabled word buttons).
      if (S.state) {
        $('#choices').dataset.key = '';
        render();
      }
  }
}

// --- state -------------------------------------------------------------------------------

function applyState(s, fresh) {
  // Snapshots can overtake each other; an older one would undo newer changes.
  if (!fresh && S.state && s.version < S.state.version) return;
  const prev = S.state;
  S.state = s;
  // A snapshot's server_ms is older than "now" by its trip: the least delayed one says most about the server's
  // clock, so a smaller offset (a slower trip) is kept out unless it is a real change (a clock set back).
  const offset = s.server_ms - Date.now();
  if (fresh || offset > S.clockOffset || offset < S.clockOffset - CLOCK_JUMP_MS) S.clockOffset = offset;

  const turnChanged = !prev || prev.turn_id !== s.turn_id || prev.game_no !== s.game_no;
  const phaseChanged = !prev || prev.phase !== s.phase;
  const drawing = iAmDrawing();

  if (turnChanged) {
    S.aiVersion = -1;
    // "+N" at turn end needs the scores from before the turn: known only if we saw it start
    // (classic turns start by choosing; solo words and race rounds start drawing at once).
    const starting = s.phase === 'choosing' || (s.mode !== 'classic' && s.phase === 'drawing' && !fresh && prev);
    S.baseScores = starting ? new Map(s.players.map((p) => [p.id, p.score])) : null;
    race.reset(s.turn_id);
  }

  // Canvas: a new turn starts empty; after a (re)join the drawing so far follows
  // the welcome in `canvas` frames.
  if (turnChanged || fresh) board.reset();
  if (fresh && !turnChanged) race.reset(s.turn_id); // a rejoin: the canvases come again
  board.setCanDraw(drawing);

  renderAI(s);

  if (phaseChanged && s.phase === 'game_over') S.resultsOpen = true;
  if (s.phase !== 'game_over') S.resultsOpen = false;
  if (phaseChanged && drawing) {
    if (s.mode === 'classic') toast(`Your turn! Draw: ${s.word}`, 'ok', 2500);
    else if (!fresh) showIntro(s);
  }
  // On a phone the page scrolls: bring the canvas back into view for the drawer.
  if (phaseChanged && (s.drawer_id === S.playerId || drawing) && (s.phase === 'choosing' || s.phase === 'drawing')) {
    const rect = $('#stage').getBoundingClientRect();
    if (rect.top < 0 || rect.bottom > window.innerHeight) $('#stage').scrollIntoView({ block: 'nearest' });
  }

  render();
  autoStartSolo(s);

  // Playtest hooks: sound cues, the AI's voice, the chat following a new phase's layout.
  cues.state(prev, s, fresh);
  voice.follow(s);
  if (phaseChanged) chat.follow();
}

/** The AI panel from a snapshot: its top-3 for the canvas this player watches, or why there is none. */
function renderAI(s) {
  const panel = $('#ai-panel');
  panel.hidden = !aiPlays(); // "AI off": no AI anywhere on the page
  if (!aiPlays()) return;
  const solo = s.mode === 'solo';
  if (s.phase === 'drawing' || s.phase === 'turn_end') {
    if (s.ai === null) {
      ai.idle("The AI's guesses are hidden until you guess the word.", 'hidden until you guess it');
    } else if (s.mode === 'race' && !s.can_draw && s.phase === 'drawing' && !s.racers.some((r) => r.player_id === S.playerId)) {
      ai.idle('You join the race from the next round: watch the others below.', 'watching the race');
    } else {
      const confident = s.ai.length > 0 && s.ai[0].p >= s.ai_threshold;
      ai.update(s.ai, confident, s.phase === 'drawing');
    }
  } else if (s.phase === 'lobby') {
    if (s.mode === 'classic' && s.ai_mode === 'hidden') {
      ai.idle("I'll guess every drawing live, but you only see my guesses once you got the word.", 'playing in secret');
    } else {
      ai.idle(solo ? "Draw, and I'll guess live. Can I recognise every drawing in time?"
        : s.mode === 'race' ? "Everyone draws; I'll judge whose drawing I recognise first."
          : "I'll guess every drawing live. Can you draw better than I guess?", 'ready when you are');
    }
  } else if (s.phase === 'choosing') {
    ai.idle('Waiting for the drawing to start…', 'waiting for a drawing…');
  } else {
    ai.idle('Good game! Check the gallery to see what I guessed.', 'good game!');
  }
}

/** Solo: one click from the home page. Seated in the lobby as its only player, the page starts the game
 * (with the number of words the player chose last), once per lobby: a refusal leaves the Start button. */
function autoStartSolo(s) {
  const self = me();
  if (s.mode !== 'solo' || s.phase !== 'lobby' || !self || !self.is_host || S.autoStarted === s.game_no) return;
  S.autoStarted = s.game_no;
  const words = soloWordsWanted();
  if (words && words !== s.solo_words) send({ type: 'settings', solo_words: words });
  send({ type: 'start' });
}

/** "Draw: bus", big on the canvas for a moment as a solo word or a race round begins (never in the pen's way). */
function showIntro(s) {
  const box = $('#turn-intro');
  const seconds = s.phase_seconds;
  box.replaceChildren(
    h('span', { class: 'turn-intro-caption', text: s.mode === 'race' ? 'Everyone draw' : `Draw · word ${s.round} of ${s.rounds}` }),
    h('span', { class: 'turn-intro-word', text: s.word || '' }),
    seconds ? h('span', { class: 'turn-intro-sub', text: `in under ${seconds} seconds` }) : '');
  box.hidden = false;
  box.classList.remove('is-leaving');
  clearTimeout(S.introTimer);
  S.introTimer = setTimeout(() => {
    box.classList.add('is-leaving');
    S.introTimer = setTimeout(() => {
      box.hidden = true;
    }, 300);
  }, INTRO_MS);
}

// --- rendering -------------------------------------------------------------------------------

function render() {
  const s = S.state;
  if (!s) return;
  const self = me();
  document.body.dataset.phase = s.phase;
  document.body.dataset.mode = s.mode;
  document.body.dataset.ai = aiPlays() ? s.ai_mode : 'off';
  document.body.dataset.role = s.drawer_id === S.playerId || (s.mode !== 'classic' && s.can_draw) ? 'drawer' : 'guesser';

  // Header.
  $('#round').textContent = s.phase === 'lobby' ? 'Lobby'
    : `${s.mode === 'solo' ? 'Word' : 'Round'} ${Math.max(1, s.round)} of ${s.rounds}`;
  const phase = $('#phase');
  phase.textContent = PHASE_LABELS[s.phase] || s.phase;
  phase.dataset.phase = s.phase;
  renderWord(s);
  tick();

  // Players.
  renderPlayers($('#players'), s, S.playerId, (player) => {
    if (window.confirm(`Remove ${player.name} from the room?`)) send({ type: 'kick', player_id: player.id });
  }, (player) => {
    if (window.confirm(`Vote to remove ${player.name}? A majority of the other players removes them.`)) {
      send({ type: 'votekick', player_id: player.id });
    }
  });
  renderPlayerCount(s, self);

  // Overlays.
  const turnEnd = s.phase === 'turn_end';
  $('#lobby').hidden = s.phase !== 'lobby';
  $('#choosing').hidden = s.phase !== 'choosing';
  $('#turn-end').hidden = !(turnEnd && s.mode === 'classic');
  $('#solo-end').hidden = !(turnEnd && s.mode === 'solo');
  $('#race-end').hidden = !(turnEnd && s.mode === 'race');
  $('#game-over-mini').hidden = s.phase !== 'game_over' || S.resultsOpen;
  if (s.phase !== 'drawing') $('#turn-intro').hidden = true;
  if (s.phase === 'lobby') renderLobby(s, self);
  if (s.phase === 'choosing') renderChoosing(s, self, send);
  if (turnEnd && s.mode === 'classic') renderTurnEnd(s, S.baseScores);
  if (turnEnd && s.mode === 'solo') renderSoloEnd(s);
  if (turnEnd && s.mode === 'race') renderRaceEnd(s, S.playerId, S.baseScores);
  if (s.phase === 'game_over') renderGameOver(s, S.playerId);
  $('#game-over').hidden = !(s.phase === 'game_over' && S.resultsOpen);
  renderRules(s);
  renderRace(s);

  renderTools(s, self);
  renderChatInput(s, self);
}

/** Race rounds: the other racers' thumbnails, and this player's own place on their board. */
function renderRace(s) {
  const racing = s.mode === 'race' && (s.phase === 'drawing' || s.phase === 'turn_end') && s.racers.length > 0;
  $('#race-strip').hidden = !racing;
  if (racing) race.render(s.racers, S.playerId);
  const mine = racing ? s.racers.find((r) => r.player_id === S.playerId) : null;
  const badge = $('#stage-badge');
  badge.hidden = !(mine && mine.place && s.phase === 'drawing');
  if (!badge.hidden) badge.replaceChildren(icon('robot'), ` Recognised: ${ordinal(mine.place)}!`);
}

/** The word: blanks with their count for guessers, the word itself for the drawer and those who know it. */
function renderWord(s) {
  const box = $('#word');
  const caption = $('#word-caption');
  // Who draws this word: the classic drawer, the solo player, every racer.
  const isDrawer = s.drawer_id === S.playerId || (s.mode !== 'classic' && s.can_draw);
  box.className = 'word';
  box.replaceChildren();
  box.removeAttribute('aria-label');
  box.dataset.mask = s.word_mask || '';
  if (s.phase === 'lobby' || s.phase === 'game_over' || (s.phase === 'choosing')) {
    caption.textContent = '';
    let text = s.phase === 'lobby' ? 'Waiting for the game to start' : 'Game over!';
    if (s.phase === 'choosing') {
      const drawer = s.players.find((p) => p.id === s.drawer_id);
      text = isDrawer ? 'Choose a word…' : `${drawer ? drawer.name : 'Someone'} is choosing…`;
    }
    box.append(h('span', { class: 'idle', text }));
    return;
  }
  if (s.word) {
    box.classList.add(isDrawer ? 'is-drawer' : 'is-known');
    caption.textContent = s.phase === 'turn_end' ? 'The word was' : isDrawer ? 'Draw this'
      : s.mode === 'race' ? 'Everyone draws' : 'You got it!';
    box.append(h('span', { class: 'plain', text: s.word }));
    return;
  }
  const mask = s.word_mask || '';
  caption.textContent = 'Guess the word';
  for (const ch of mask) {
    if (ch === '_') box.append(h('span', { class: 'ch blank', text: '_' }));
    else if (ch === ' ') box.append(h('span', { class: 'ch gap', text: ' ' }));
    else box.append(h('span', { class: /[a-z0-9]/i.test(ch) ? 'ch shown' : 'ch', text: ch }));
  }
  // Letter counts per word, like "3" or "3 5".
  const counts = mask.split(' ').filter(Boolean).map((w) => w.replace(/[^_a-z0-9]/gi, '').length).join(' ');
  box.append(h('span', { class: 'count', 'data-testid': 'letter-count', text: counts }));
  box.setAttribute('aria-label', `${counts} letters`);
}

function renderTools(s, self) {
  const drawing = iAmDrawing();
  document.body.dataset.tools = drawing ? 'on' : 'off';
  tools.show(drawing);
  $('#undo-button').hidden = !drawing;
  $('#clear-button').hidden = !drawing;
  const hint = $('#tools-hint');
  hint.hidden = drawing;
  hint.replaceChildren();
  if (s.phase === 'choosing' && s.drawer_id !== S.playerId) hint.append('Get ready…');
  else if (s.phase === 'drawing' && s.mode === 'race') hint.append('You join the race from the next round.');
  else if (s.phase === 'drawing' && self && self.guessed) hint.append(icon('check'), ' You got it! Your chat now only reaches others who guessed.');
  else if (s.phase === 'drawing') hint.append(icon('chat'), ' Type your guesses in the chat');
  else if (s.phase === 'turn_end' && s.mode !== 'classic' && s.round >= s.rounds) hint.append('The results in a moment…');
  else if (s.phase === 'turn_end') hint.append(s.mode === 'solo' ? 'Next word in a moment…' : s.mode === 'race' ? 'Next round in a moment…' : 'Next turn in a moment…');
  tools.paint();
}

function renderChatInput(s, self) {
  // Everyone may chat, the drawer too (a line that gives the word away is refused, and said so beside the input).
  const input = $('#chat-input');
  const classicDrawer = s.mode === 'classic' && s.drawer_id === S.playerId && (s.phase === 'drawing' || s.phase === 'choosing');
  if (classicDrawer) input.placeholder = 'Chat (not the word!)…';
  else if (s.mode === 'classic' && s.phase === 'drawing' && self && !self.guessed) input.placeholder = 'Type your guess here…';
  else input.placeholder = 'Say something…';
}

/** Countdown ring, driven by the server's deadline and our estimate of its clock. */
function tick() {
  const s = S.state;
  const timer = $('#timer');
  const text = $('#timer-text');
  if (!s || s.deadline_ms == null || !['choosing', 'drawing', 'turn_end'].includes(s.phase)) {
    timer.classList.add('is-idle');
    timer.classList.remove('is-urgent');
    timer.style.setProperty('--frac', '0');
    text.textContent = '–';
    timer.dataset.seconds = '';
    return;
  }
  const total = (s.phase_seconds || 1) * 1000;
  const left = Math.max(0, s.deadline_ms - serverNow());
  const seconds = Math.ceil(left / 1000);
  timer.classList.remove('is-idle');
  timer.classList.toggle('is-urgent', s.phase === 'drawing' && seconds <= 10);
  timer.style.setProperty('--frac', String(Math.min(1, left / total)));
  text.textContent = String(seconds);
  timer.dataset.seconds = String(seconds);
  timer.setAttribute('aria-label', `${seconds} seconds left`);
  if (s.phase === 'choosing') tickChoosing(seconds, s.drawer_id === S.playerId);
  cues.countdown(s, seconds); // playtest hook: the last 10 seconds
}

// --- page furniture ------------------------------------------------------------------------------

function setBanner(text) {
  const banner = $('#conn-banner');
  banner.hidden = !text;
  if (text) $('#conn-text').textContent = text;
}

function block(title, text, canRetry = false, retryLabel = 'Try again') {
  setBanner(null);
  board.setCanDraw(false);
  $('#blocker-title').textContent = title;
  $('#blocker-text').textContent = text;
  $('#blocker-retry').hidden = !canRetry;
  $('#blocker-retry').textContent = retryLabel;
  $('#blocker').hidden = false;
}

$('#blocker-retry').addEventListener('click', () => window.location.reload());

function askName(problem = '') {
  return new Promise((resolve) => {
    const modal = $('#name-prompt');
    const input = $('#name-prompt-input');
    const hint = $('#name-prompt-hint');
    input.value = input.value || S.name || '';
    hint.textContent = problem;
    hint.classList.toggle('is-error', Boolean(problem));
    modal.hidden = false;
    input.focus();
    $('#name-form').addEventListener('submit', function onSubmit(event) {
      event.preventDefault();
      const problem = nameError(input.value);
      if (problem) {
        hint.textContent = problem;
        hint.classList.add('is-error');
        input.focus();
        return;
      }
      const name = cleanName(input.value);
      store.set(NAME_KEY, name);
      modal.hidden = true;
      this.removeEventListener('submit', onSubmit);
      resolve(name);
    });
  });
}

const shareUrl = `${window.location.origin}${window.location.pathname}`;
$('#share-link').value = shareUrl;
async function copyLink() {
  toast((await copyText(shareUrl)) ? 'Invite link copied!' : shareUrl, 'ok', 2200);
}
$('#copy-link').addEventListener('click', copyLink);
$('#copy-link-2').addEventListener('click', copyLink);
$('#share-link').addEventListener('focus', (e) => e.target.select());

$('#leave-button').addEventListener('click', () => {
  S.leaving = true;
  conn.stopped = true; // the server closes the socket after `leave`: no reconnect
  conn.send({ type: 'leave' });
  store.del(tokenKey(CODE));
  // Give the frame a moment to leave before the page unloads.
  setTimeout(() => {
    conn.stop();
    window.location.href = '/';
  }, 250);
});

// The lobby's "How scoring works", opened at the bottom of the lobby, scrolls into view.
$('.rules-lobby').addEventListener('toggle', (event) => {
  if (event.target.open) event.target.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
});

$('#players-toggle').addEventListener('click', () => {
  const panel = $('#players-panel');
  const open = panel.classList.toggle('is-open');
  $('#players-toggle').setAttribute('aria-expanded', String(open));
});

$('#show-results').addEventListener('click', () => {
  S.resultsOpen = true;
  render();
});
$('#close-results').addEventListener('click', () => {
  S.resultsOpen = false;
  render();
});
// Solo: "Play again" is one click too: back to the lobby, where the page starts the next game itself.
$('#play-again').addEventListener('click', () => send({ type: 'play_again' }));

// Chat: Enter (form submit) sends a guess.
$('#chat-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('#chat-input');
  const text = input.value.trim().slice(0, GAME.maxText);
  if (!text) return;
  clearChatError();
  if (send({ type: 'guess', text })) {
    S.sentLine = { text, at: Date.now() };
    input.value = '';
  }
});
$('#chat-input').addEventListener('input', clearChatError);

$('#undo-button').addEventListener('click', () => send({ type: 'undo' }));
$('#clear-button').addEventListener('click', () => send({ type: 'clear' }));

document.addEventListener('keydown', (event) => {
  const target = event.target;
  const typing = target instanceof HTMLElement && target.matches('input, textarea, select, [contenteditable]');
  if (iAmDrawing() && (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'z' && !typing) {
    event.preventDefault();
    send({ type: 'undo' });
    return;
  }
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  if (iAmDrawing() && tools.key(event)) {
    event.preventDefault();
    return;
  }
  // Start typing anywhere to guess (focus moves before the key lands).
  const input = $('#chat-input');
  if (event.key.length === 1 && !input.disabled && $('#name-prompt').hidden) input.focus();
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) conn.retryNow();
});

// --- start ---------------------------------------------------------------------------------------

const board = new Board($('#canvas'), {
  constants: GAME,
  send: (msg) => conn.send(msg),
  // Point timestamps: ms since the turn started (deadline minus the drawing phase's length, on the server's clock).
  clock: () => {
    const s = S.state;
    if (!s || s.deadline_ms == null || s.phase !== 'drawing' || !s.phase_seconds) return 0;
    return serverNow() - (s.deadline_ms - s.phase_seconds * 1000);
  },
});
const tools = new DrawingTools({ brushes: $('#brushes'), palette: $('#palette') }, GAME, board);
const race = new RaceStrip($('#race-strip'), GAME);
const ai = new AIPanel($('#ai-panel'), GAME.aiMask);
const chat = new ChatLog($('#chat-log'), () => S.playerId);
const cues = setupSound($('#sound-toggle'));
const voice = setupVoice($('#voice-toggle'));
setupLobby(send);
setInterval(tick, 250);

// For tests and debugging.
window.gtd = {
  get state() {
    return S.state;
  },
  get playerId() {
    return S.playerId;
  },
  get socket() {
    return conn.ws;
  },
  get board() {
    return board;
  },
  send,
};

(async () => {
  setBanner('Connecting…');
  S.name = savedName() || (setBanner(null), await askName());
  setBanner('Connecting…');
  conn.open();
})();
