// Home page: nickname (remembered), the ways to play (a room with friends, a race, solo: each a form that
// creates a room of that mode), join by code, live list of public rooms.

import { $, h, NAME_KEY, cleanName, nameError, savedName, store, colorFor, initial } from './util.js';

const REFRESH_MS = 4000;
const PHASES = { lobby: 'in the lobby', choosing: 'playing', drawing: 'playing', turn_end: 'playing', game_over: 'game over' };
const MODES = { race: 'Race' };

const nameInput = $('#name-input');
const nameHint = $('#name-hint');
const avatar = $('#name-avatar');
const defaultHint = nameHint.textContent;

function paintAvatar() {
  const name = cleanName(nameInput.value);
  avatar.textContent = name ? initial(name) : '?';
  avatar.style.background = name ? colorFor(name) : '#4f46e5';
}

function showNameError(message) {
  nameHint.textContent = message || defaultHint;
  nameHint.classList.toggle('is-error', Boolean(message));
}

nameInput.value = savedName();
paintAvatar();
nameInput.addEventListener('input', () => {
  paintAvatar();
  const name = cleanName(nameInput.value);
  if (!nameError(name)) {
    store.set(NAME_KEY, name);
    showNameError('');
  }
});

/** Both forms need a nickname first: the room page would ask again otherwise. */
function requireName(event) {
  const problem = nameError(nameInput.value);
  if (problem) {
    event.preventDefault();
    showNameError(problem);
    nameInput.focus();
    return false;
  }
  store.set(NAME_KEY, cleanName(nameInput.value));
  return true;
}

// Each way to play is a form that creates a room; one click, then the button waits for the room page.
for (const [form, button] of [['#create-form', '#create-button'], ['#race-form', '#race-button'], ['#solo-form', '#solo-button']]) {
  $(form).addEventListener('submit', (event) => {
    if (requireName(event)) $(button).disabled = true;
  });
}
// Back from a room (the browser's back button restores this page as it was left): the buttons work again.
window.addEventListener('pageshow', () => {
  for (const button of ['#create-button', '#race-button', '#solo-button']) $(button).disabled = false;
});

const codeInput = $('#code-input');
codeInput.addEventListener('input', () => {
  // Codes are upper-case letters and digits; tolerate pasted spaces and dashes.
  codeInput.value = codeInput.value.toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 6);
});
$('#join-form').addEventListener('submit', requireName);

// --- public rooms --------------------------------------------------------------

const list = $('#public-rooms');
const status = $('#public-status');

function renderRooms(rooms) {
  list.replaceChildren();
  if (!rooms.length) {
    list.append(h('li', { class: 'empty', id: 'public-empty', text: 'No public rooms right now. Create one and tick "list publicly"!' }));
    return;
  }
  for (const room of rooms) {
    const full = room.players >= room.max_players;
    list.append(
      h('li', { class: `room-item${full ? ' is-full' : ''}`, dataset: { code: room.code } },
        h('div', { class: 'room-meta' },
          h('span', { class: 'room-code' }, room.code, MODES[room.mode] ? h('span', { class: 'pill mode-pill', text: MODES[room.mode] }) : ''),
          h('span', { class: 'room-sub', text: `${room.players}/${room.max_players} players · ${PHASES[room.phase] || room.phase}` })),
        full
          ? h('span', { class: 'pill', text: 'Full' })
          : h('a', { class: 'btn btn-small', href: `/r/${encodeURIComponent(room.code)}`, text: 'Join' })),
    );
  }
}

async function refresh() {
  if (document.hidden) return;
  try {
    const response = await fetch(list.dataset.url, { headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (!response.ok) throw new Error(String(response.status));
    const data = await response.json();
    renderRooms(Array.isArray(data.rooms) ? data.rooms : []);
    status.textContent = 'Live';
  } catch {
    status.textContent = 'Offline';
  }
}

// Re-render once now so server-rendered phases get friendly labels, then poll.
refresh();
setInterval(refresh, REFRESH_MS);
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) refresh();
});
