// The room's WebSocket: JSON frames, automatic reconnection, keep-alive.
//
// Reconnection uses exponential backoff (0.5 s doubling to 8 s) with jitter so
// that a restarted server is not hit by every browser at the same instant. The
// owner calls `connected()` once the server has welcomed us; only then is the
// backoff reset, so a server that accepts and immediately drops us still backs off.

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 8000;
const PING_EVERY_MS = 20000;
// No frame at all for this long means the connection is dead even if the
// browser has not noticed (sleeping laptop, lost Wi-Fi): drop it and reconnect.
const SILENCE_LIMIT_MS = 50000;
// The server closes with this code when the room does not exist.
export const CLOSE_NO_ROOM = 4404;
// ... and with this one when the seat was taken by a newer tab or window (reconnecting would take it back).
export const CLOSE_REPLACED = 4409;

export class Connection {
  /**
   * @param {string} url ws:// or wss:// address
   * @param {{onOpen?: Function, onMessage?: Function, onClose?: Function, onRetry?: Function}} handlers
   */
  constructor(url, handlers = {}) {
    this.url = url;
    this.handlers = handlers;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastFrameAt = 0;
  }

  open() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (ws !== this.ws) return;
      this.lastFrameAt = Date.now();
      this.startPing();
      this.handlers.onOpen?.();
    });
    ws.addEventListener('message', (event) => {
      if (ws !== this.ws) return;
      this.lastFrameAt = Date.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // not ours to understand
      }
      this.handlers.onMessage?.(message);
    });
    ws.addEventListener('close', (event) => {
      if (ws !== this.ws) return;
      this.stopPing();
      this.ws = null;
      const retry = !this.stopped && event.code !== CLOSE_NO_ROOM && event.code !== CLOSE_REPLACED;
      this.handlers.onClose?.(event, retry);
      if (retry) this.scheduleRetry();
    });
    // 'error' is always followed by 'close'; nothing to do here.
  }

  /** Reset the backoff: call when the server has accepted us (welcome). */
  connected() {
    this.attempt = 0;
  }

  scheduleRetry() {
    const base = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    this.attempt += 1;
    // "Equal jitter": between half and all of the nominal delay.
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.handlers.onRetry?.(delay, this.attempt);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** Try again right now (e.g. the tab became visible again). */
  retryNow() {
    if (this.stopped || this.ws) return;
    this.open();
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Send a message object; returns false when the socket is not open (the message is dropped). */
  send(message) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Close for good: no more reconnection. */
  stop(code = 1000) {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopPing();
    if (this.ws) {
      try {
        this.ws.close(code);
      } catch {
        /* already closing */
      }
    }
  }

  startPing() {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      if (!this.ws) return;
      if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) {
        // Force the close path (and a reconnect) on a silently dead socket.
        const dead = this.ws;
        this.ws = null;
        this.stopPing();
        try {
          dead.close();
        } catch {
          /* ignore */
        }
        this.handlers.onClose?.({ code: 4000, reason: 'silent' }, true);
        this.scheduleRetry();
        return;
      }
      this.send({ type: 'ping' });
    }, PING_EVERY_MS);
  }

  stopPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }
}

/** ws:// or wss:// matching the page, for a room code. */
export function roomSocketUrl(code) {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}/ws/room/${encodeURIComponent(code)}/`;
}
