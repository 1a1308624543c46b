// The room page: joins over the WebSocket, keeps the latest snapshot and
// renders everything from it. Module map:
//   net.js      socket, reconnect with backoff, keep-alive
//   canvas.js   p5 drawing board, pointer input, point batching
//   ai.js       the AI's top-3 bars
//   chat.js     chat log
//   players.js  player list
//   screens.js  lobby / choosing / turn-end overlays and game-over results
//
// Server truth arrives two ways: `state` snapshots (personalised, versioned,
// complete) after every change, and events (`points`, `stroke`, `canvas`, `ai`,
// `chat`, `error`) in between. Rendering is driven by the snapshot; events
// only patch the canvas, the AI bars and the chat.

import { $, h, icon, store, tokenKey, NAME_KEY, savedName, cleanName, nameError, toast, copyText } from './util.js';
import { Connection, roomSocketUrl, CLOSE_NO_ROOM } from './net.js';
import { Board } from './canvas.js';
import { AIPanel } from './ai.js';
import { ChatLog } from './chat.js';
import { renderPlayers, renderPlayerCount } from './players.js';
import { setupLobby, renderLobby, renderChoosing, tickChoosing, renderTurnEnd, renderGameOver } from './screens.js';
import { setupSound } from './sound.js';
import { setupVoice } from './voice.js';

// Mirrors of game/rules.py: the snapshot carries deadlines but not phase
// lengths or the AI's confidence bar, so the countdown ring and "not sure yet"
// need them here.
const AI_CONFIDENCE = 0.25;
const CHOOSE_SECONDS = 15;
const TURN_END_SECONDS = 6;

const PHASE_LABELS = {
  lobby: 'Waiting for players',
  choosing: 'Choosing a word',
  drawing: 'Drawing',
  turn_end: 'Turn over',
  game_over: 'Game over',
};

const app = $('#app');
const CODE = app.dataset.code;
const LOGICAL_W = Number(app.dataset.canvasWidth) || 800;
const LOGICAL_H = Number(app.dataset.canvasHeight) || 600;
const BRUSHES = (app.dataset.brushSizes || '4,10,22').split(',').map(Number).filter(Boolean);

/** Everything this page knows. */
const S = {
  state: null,
  playerId: null,
  name: '',
  joined: false,
  everJoined: false,
  leaving: false,
  clockOffset: 0, // server clock minus ours, from the latest snapshot
  aiVersion: -1, // newest `ai` message version shown for the current turn
  baseScores: null, // scores when the current turn began (turn-end "+N")
  resultsOpen: false,
};

const serverNow = () => Date.now() + S.clockOffset;
const me = () => S.state?.players.find((p) => p.id === S.playerId) || null;
const iAmDrawing = () => Boolean(S.state && S.state.can_draw && S.joined);
// The canvas the big board shows: the drawer's, or in a race (and solo) this player's own.
const boardOwner = () => (S.state && S.state.mode !== 'classic' ? S.playerId : S.state?.drawer_id);

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
      if (msg.turn_id === turnId && msg.owner === boardOwner()) {
        board.setStroke(msg.stroke, msg.points, msg.width, msg.color);
        if (board.hasGap()) askForCanvas();
      }
      break;
    case 'canvas':
      if (msg.turn_id === turnId && msg.owner === boardOwner()) board.applyCanvas(msg.start, msg.total, msg.strokes);
      break;
    case 'ai':
      if (msg.turn_id === turnId && msg.owner === boardOwner() && msg.version >= S.aiVersion && S.state.phase === 'drawing') {
        S.aiVersion = msg.version;
        ai.update(msg.guesses, msg.confident, true);
        voice.hear(msg.guesses, msg.confident); // playtest hook: the AI's voice
      }
      break;
    case 'chat_history':
      chat.history(msg.lines);
      break;
    case 'chat':
      chat.add(msg);
      cues.chat(msg, S.playerId); // playtest hook: sound cues
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

function handleError(msg) {
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
        setBanner(null);
        askName(msg.message).then((name) => {
          S.name = name;
          const token = store.get(tokenKey(CODE));
          if (!conn.send({ type: 'join', name, ...(token ? { token } : {}) })) conn.retryNow();
        });
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
        setBanner(null);
        askName(msg.message).then((name) => {
          S.name = name;
          const token = store.get(tokenKey(CODE));
          if (!conn.send({ type: 'join', name, ...(token ? { token } : {}) })) conn.retryNow();
        });
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
  S.clockOffset = s.server_ms - Date.now();

  const turnChanged = !prev || prev.turn_id !== s.turn_id || prev.game_no !== s.game_no;
  const phaseChanged = !prev || prev.phase !== s.phase;
  const drawing = iAmDrawing();

  if (turnChanged) {
    S.aiVersion = -1;
    // "+N" at turn end needs the scores from before the turn: known only if we saw it start.
    S.baseScores = s.phase === 'choosing' ? new Map(s.players.map((p) => [p.id, p.score])) : null;
  }

  // Canvas: a new turn starts empty; after a (re)join the drawing so far follows
  // the welcome in `canvas` frames.
  if (turnChanged || fresh) board.reset();
  board.setCanDraw(drawing);

  // AI bars.
  if (s.phase === 'drawing' || s.phase === 'turn_end') {
    if (s.ai === null) {
      ai.idle("The AI's guesses are hidden until you guess the word.", 'hidden until you guess it');
    } else {
      const confident = s.ai.length > 0 && s.ai[0].p >= (s.ai_threshold ?? AI_CONFIDENCE);
      ai.update(s.ai, confident, s.phase === 'drawing');
    }
  } else if (s.phase === 'lobby') {
    ai.idle("I'll guess every drawing live. Can you draw better than I guess?", 'ready when you are');
  } else if (s.phase === 'choosing') {
    ai.idle('Waiting for the drawing to start…', 'waiting for a drawing…');
  } else {
    ai.idle('Good game! Check the gallery to see what I guessed.', 'good game!');
  }

  if (phaseChanged && s.phase === 'game_over') S.resultsOpen = true;
  if (s.phase !== 'game_over') S.resultsOpen = false;
  if (phaseChanged && drawing) toast(`Your turn! Draw: ${s.word}`, 'ok', 2500);
  // On a phone the page scrolls: bring the canvas back into view for the drawer.
  if (phaseChanged && s.drawer_id === S.playerId && (s.phase === 'choosing' || s.phase === 'drawing')) {
    const rect = $('#stage').getBoundingClientRect();
    if (rect.top < 0 || rect.bottom > window.innerHeight) $('#stage').scrollIntoView({ block: 'nearest' });
  }

  render();

  // Playtest hooks: sound cues, the AI's voice, the chat following a new phase's layout.
  cues.state(prev, s, fresh);
  voice.follow(s);
  if (phaseChanged) chat.follow();
}

// --- rendering -------------------------------------------------------------------------------

function render() {
  const s = S.state;
  if (!s) return;
  const self = me();
  document.body.dataset.phase = s.phase;
  document.body.dataset.role = s.drawer_id === S.playerId ? 'drawer' : 'guesser';

  // Header.
  $('#round').textContent = s.phase === 'lobby' ? 'Lobby' : `Round ${Math.max(1, s.round)} of ${s.rounds}`;
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
  $('#lobby').hidden = s.phase !== 'lobby';
  $('#choosing').hidden = s.phase !== 'choosing';
  $('#turn-end').hidden = s.phase !== 'turn_end';
  $('#game-over-mini').hidden = s.phase !== 'game_over' || S.resultsOpen;
  if (s.phase === 'lobby') renderLobby(s, self);
  if (s.phase === 'choosing') renderChoosing(s, self, send);
  if (s.phase === 'turn_end') renderTurnEnd(s, S.baseScores);
  if (s.phase === 'game_over') renderGameOver(s, S.playerId, { width: LOGICAL_W, height: LOGICAL_H });
  $('#game-over').hidden = !(s.phase === 'game_over' && S.resultsOpen);

  renderTools(s, self);
  renderChatInput(s, self);
}

/** The word: blanks with their count for guessers, the word itself for the drawer and those who know it. */
function renderWord(s) {
  const box = $('#word');
  const caption = $('#word-caption');
  const isDrawer = s.drawer_id === S.playerId;
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
    caption.textContent = s.phase === 'turn_end' ? 'The word was' : isDrawer ? 'Draw this' : 'You got it!';
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
  $('#brushes').hidden = !drawing;
  $('#undo-button').hidden = !drawing;
  $('#clear-button').hidden = !drawing;
  const hint = $('#tools-hint');
  hint.hidden = drawing;
  hint.replaceChildren();
  if (s.phase === 'choosing' && s.drawer_id !== S.playerId) hint.append('Get ready…');
  else if (s.phase === 'drawing' && self && self.guessed) hint.append(icon('check'), ' You got it! Your chat now only reaches others who guessed.');
  else if (s.phase === 'drawing') hint.append(icon('chat'), ' Type your guesses in the chat');
  else if (s.phase === 'turn_end') hint.append('Next turn in a moment…');
  for (const b of $('#brushes').children) b.setAttribute('aria-pressed', String(Number(b.dataset.size) === board.brush));
}

function renderChatInput(s, self) {
  const input = $('#chat-input');
  const drawing = s.phase === 'drawing' && s.drawer_id === S.playerId;
  input.disabled = drawing;
  $('#chat-send').disabled = drawing;
  if (drawing) input.placeholder = "You're drawing!";
  else if (s.phase === 'drawing' && self && !self.guessed) input.placeholder = 'Type your guess here…';
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
  const total = (s.phase_seconds ?? (s.phase === 'drawing' ? s.draw_seconds : s.phase === 'choosing' ? CHOOSE_SECONDS : TURN_END_SECONDS)) * 1000;
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
$('#play-again').addEventListener('click', () => send({ type: 'play_again' }));

// Chat: Enter (form submit) sends a guess.
$('#chat-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('#chat-input');
  const text = input.value.trim().slice(0, 100);
  if (!text) return;
  if (send({ type: 'guess', text })) input.value = '';
});

// Drawing tools.
$('#brushes').replaceChildren(...BRUSHES.map((size, i) => h('button', {
  class: 'brush', type: 'button', 'data-testid': 'brush', dataset: { size: String(size) },
  title: `${['Thin', 'Medium', 'Thick'][i] || size} brush (${i + 1})`, 'aria-label': `Brush size ${size}`,
  onclick: () => {
    board.setBrush(size);
    render();
  },
}, h('span', { class: 'dot', style: { width: `${Math.max(4, size * 0.9)}px`, height: `${Math.max(4, size * 0.9)}px` } }))));
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
  if (iAmDrawing()) {
    const i = ['1', '2', '3'].indexOf(event.key);
    if (i >= 0 && BRUSHES[i]) {
      board.setBrush(BRUSHES[i]);
      render();
    }
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
  width: LOGICAL_W,
  height: LOGICAL_H,
  brushSizes: BRUSHES,
  send: (msg) => conn.send(msg),
  // Point timestamps: ms since the turn started (deadline minus draw time, on the server's clock).
  clock: () => {
    const s = S.state;
    if (!s || s.deadline_ms == null) return 0;
    return serverNow() - (s.deadline_ms - s.draw_seconds * 1000);
  },
});
const ai = new AIPanel($('#ai-panel'));
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
