// The player list: rank, avatar (robot for the AI, crown for the host, a badge
// for drawing / guessed), name, score, "away", and the kick buttons.

import { h, icon, colorFor, initial } from './util.js';

/** Best score first; ties keep join order (the server's order). */
export function ranked(players) {
  return players
    .map((p, i) => ({ p, i }))
    .sort((a, b) => b.p.score - a.p.score || a.i - b.i)
    .map(({ p }) => p);
}

export function avatar(player, extraClass = '') {
  const el = h('div', {
    class: `avatar${player.is_ai ? ' is-ai' : ''} ${extraClass}`.trim(),
    'aria-hidden': 'true',
    style: player.is_ai ? null : { background: colorFor(`${player.id}:${player.name}`) },
    text: player.is_ai ? null : initial(player.name),
  });
  if (player.is_ai) el.append(icon('robot'));
  if (player.is_host) el.append(h('span', { class: 'crown', title: 'Host' }, icon('crown')));
  return el;
}

/**
 * @param {HTMLUListElement} list
 * @param {object} state the snapshot
 * @param {number|null} meId
 * @param {(player: object) => void} onKick shown to the host for other humans
 */
export function renderPlayers(list, state, meId, onKick, onVoteKick = null) {
  const inGame = state.phase !== 'lobby';
  const players = inGame ? ranked(state.players) : state.players;
  const me = state.players.find((p) => p.id === meId);
  const iAmHost = Boolean(me && me.is_host);
  list.replaceChildren(
    ...players.map((player, i) => {
      const classes = ['player'];
      if (player.id === meId) classes.push('is-me');
      if (player.is_ai) classes.push('is-ai');
      if (player.is_host) classes.push('is-host');
      if (player.is_drawer) classes.push('is-drawer');
      if (player.guessed) classes.push('is-guessed');
      if (!player.connected) classes.push('is-away');

      // Status badges sit on the avatar's corner and the kick buttons on the points line,
      // so nothing shares the name's line: a narrow column cuts a name, never to one letter.
      const face = avatar(player);
      if (player.is_drawer) face.append(h('span', { class: 'badge badge-drawing', title: 'Drawing' }, icon('pencil')));
      else if (player.guessed) face.append(h('span', { class: 'badge badge-guessed', title: 'Guessed it' }, icon('check')));

      const tags = h('div', { class: 'player-tags' });
      if (iAmHost && !player.is_ai && player.id !== meId) {
        tags.append(h('button', {
          class: 'kick', type: 'button', title: `Remove ${player.name}`, 'aria-label': `Remove ${player.name}`,
          onclick: () => onKick(player),
        }, icon('x')));
      } else if (onVoteKick && me && !player.is_ai && player.id !== meId) {
        // Everyone else may vote a player out; a majority of the others removes them.
        const votes = `${player.kick_votes || 0}/${state.kick_votes_needed}`;
        tags.append(h('button', {
          class: 'kick votekick', type: 'button', 'data-testid': 'votekick',
          title: `Vote to remove ${player.name} (${votes})`, 'aria-label': `Vote to remove ${player.name}`,
          onclick: () => onVoteKick(player),
        }, icon('x'), player.kick_votes ? h('span', { class: 'vote-count', text: votes }) : null));
      }

      const name = h('span', { class: 'player-name', 'data-testid': 'player-name', text: player.name, title: player.name });
      return h('li', {
        class: classes.join(' '),
        'data-testid': 'player',
        dataset: { playerId: String(player.id) },
      },
      h('span', { class: 'player-rank', text: inGame ? `#${i + 1}` : '' }),
      face,
      h('div', { class: 'player-info' },
        h('div', { class: 'player-name-row' }, name),
        h('div', { class: 'player-meta' },
          h('span', { class: 'player-points' }, h('span', { class: 'player-score', text: String(player.score) }), ' pts',
            player.id === meId ? h('span', { class: 'you-tag', text: 'you' }) : '',
            player.connected ? '' : h('span', { class: 'badge-away', title: 'Disconnected', text: 'away' })),
          tags.childElementCount ? tags : null)));
    }),
  );
}

/** Humans in the room: the AI is listed with them but is not counted, on any screen. */
export function humanCount(state) {
  return state.players.filter((p) => !p.is_ai).length;
}

/** The count beside "Players" (wide screens) and the folded list's summary line (phones). */
export function renderPlayerCount(state, me) {
  const humans = humanCount(state);
  const withAI = state.players.some((p) => p.is_ai);
  const title = `${humans} player${humans === 1 ? '' : 's'}${withAI ? ', plus the AI' : ''}`;
  const pill = document.getElementById('player-count');
  pill.textContent = String(humans);
  pill.title = title;
  const summary = document.getElementById('players-summary');
  summary.title = title;
  summary.replaceChildren(icon('users'), ' Players ', h('span', { class: 'pill', 'data-testid': 'players-summary-count', text: String(humans) }),
    me ? h('span', { class: 'summary-score', text: ` · you: ${me.score} pts` }) : '');
}
