// Small helpers shared by the home and room pages.
//
// Everything a player typed (names, chat) reaches the page through
// textContent only: `h()` never interprets strings as HTML.

export const NAME_KEY = 'gtd.name';
export const tokenKey = (code) => `gtd.token.${code}`;

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/**
 * Create an element. `attrs` keys: class, text (textContent), dataset (object),
 * on<Event> (listener), anything else becomes an attribute (true → empty attribute,
 * false/null → omitted). Children may be nodes or strings (text nodes).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An icon from the sprite in templates/game/_icons.html. */
export function icon(name, extraClass = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('class', `icon icon-${name} ${extraClass}`.trim());
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS(SVG_NS, 'use');
  use.setAttribute('href', `#i-${name}`);
  svg.append(use);
  return svg;
}

/** localStorage that never throws (private mode, disabled storage). */
export const store = {
  get(key) {
    try {
      return window.localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch {
      /* storage unavailable: the game still works for this page load */
    }
  },
  del(key) {
    try {
      window.localStorage.removeItem(key);
    } catch {
      /* ignore */
    }
  },
};

/** The server's rule: whitespace collapsed, 1-20 visible characters, no control characters. */
export function cleanName(raw) {
  return String(raw || '').split(/\s+/).filter(Boolean).join(' ');
}

export function nameError(raw) {
  const name = cleanName(raw);
  if (!name) return 'Pick a nickname first.';
  if (name.length > 20) return 'At most 20 characters.';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'Only visible characters, please.';
  return '';
}

export function savedName() {
  const name = cleanName(store.get(NAME_KEY));
  return nameError(name) ? '' : name;
}

/** A stable, friendly colour per player. */
const AVATAR_COLORS = ['#ef4444', '#f97316', '#eab308', '#22c55e', '#14b8a6', '#0ea5e9', '#6366f1', '#a855f7', '#ec4899', '#84cc16'];
export function colorFor(key) {
  const s = String(key);
  let hash = 0;
  for (let i = 0; i < s.length; i++) hash = (hash * 31 + s.charCodeAt(i)) | 0;
  return AVATAR_COLORS[Math.abs(hash) % AVATAR_COLORS.length];
}

export function initial(name) {
  const first = Array.from(cleanName(name))[0];
  return first ? first.toUpperCase() : '?';
}

export const pct = (p) => `${Math.round(Math.max(0, Math.min(1, p)) * 100)}%`;
export const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** An on/off button: its pressed state, and a label saying what a click does (tooltip and screen readers). */
export function setPressed(button, pressed, label) {
  button.setAttribute('aria-pressed', String(pressed));
  button.setAttribute('aria-label', label);
  button.title = label;
}

/** Brief message at the bottom of the screen. kind: 'error' | 'ok' | 'info'. */
export function toast(message, kind = 'info', ms = 3800) {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status', text: message });
  box.append(el);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => {
    el.classList.add('is-leaving');
    setTimeout(() => el.remove(), 300);
  }, ms);
}

/** Copy text; falls back to a hidden textarea where the async clipboard is unavailable. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h('textarea', { style: { position: 'fixed', opacity: '0' } });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}
