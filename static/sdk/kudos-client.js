// Kudos client SDK: one live room over a WebSocket, for shop pages and apps (docs/protocol.md, "Client SDK").
//
//   import { KudosRoom } from 'https://kudos.example/sdk/kudos-client.js';
//   const room = new KudosRoom({ baseURL: 'https://kudos.example', stream: 'spring-sale', getToken });
//   room.on('comment', (c) => show(c));
//   await room.connect();            // resolves with the welcome
//   await room.comment('hello');     // resolves with the ack, rejects with {code, message}
//
// getToken() is called before every connection (first, each reconnect, and after the server closed the socket
// with 4001 token_expired), so the shop can hand out short-lived tokens. Reconnection uses jittered exponential
// backoff; the welcome after a reconnect carries the room's whole state, so listeners of 'welcome' resync.
// The module has no dependencies and runs in browsers and in Node 20+ (pass options.WebSocket where the
// global one is missing).

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const REQUEST_TIMEOUT_MS = 10000;
const PING_EVERY_MS = 25000;
const CONNECT_TIMEOUT_MS = 10000;

/** Close code of a socket whose token expired (docs/protocol.md, "Errors"). */
export const CLOSE_TOKEN_EXPIRED = 4001;

/** KudosError is how a refused request rejects: the stable code and the server's message. */
export class KudosError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'KudosError';
    this.code = code;
  }
}

export class KudosRoom {
  /**
   * @param {object} options
   * @param {string} options.baseURL   the server, e.g. "https://kudos.example" (http(s); ws(s) is derived)
   * @param {string} options.stream    the stream id
   * @param {() => string|Promise<string>} options.getToken  a viewer token for this user
   * @param {typeof WebSocket} [options.WebSocket]  the WebSocket class (default: the global one)
   * @param {number} [options.backoffMinMs] first reconnect delay (jittered), default 500
   * @param {number} [options.backoffMaxMs] longest reconnect delay, default 15000
   * @param {number} [options.connectTimeoutMs] a dial not open by then is abandoned and retried, default 10000
   */
  constructor({ baseURL, stream, getToken, WebSocket: WS, backoffMinMs, backoffMaxMs, connectTimeoutMs } = {}) {
    if (!baseURL || !stream || typeof getToken !== 'function') {
      throw new TypeError('KudosRoom needs baseURL, stream and getToken');
    }
    this.baseURL = String(baseURL).replace(/\/+$/, '');
    this.stream = stream;
    this.getToken = getToken;
    this.WS = WS || globalThis.WebSocket;
    if (!this.WS) throw new TypeError('no WebSocket: pass options.WebSocket');
    this.backoffMinMs = backoffMinMs ?? BACKOFF_MIN_MS;
    this.backoffMaxMs = backoffMaxMs ?? BACKOFF_MAX_MS;
    this.connectTimeoutMs = connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.listeners = new Map();
    this.pending = new Map();
    this.nextId = 1;
    this.attempt = 0;
    this.ws = null;
    this.closed = false;
    this.welcome = null;
    this.connected = null; // {resolve, reject} of connect() until the first welcome
    this.connecting = null; // connect()'s promise
  }

  /** on registers fn for a server frame type ('welcome', 'comment', 'poll.opened', …), for '*' (every
   *  server frame: fn(data, type)), or for 'state' ({state: 'connecting'|'open'|'reconnecting'|'closed',
   *  code?, reason?, delayMs?}). It returns an unsubscribe. */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type)?.delete(fn);
  }

  emit(type, data) {
    const call = (fn, ...args) => {
      try {
        fn(...args);
      } catch (err) {
        queueMicrotask(() => { throw err; });
      }
    };
    for (const fn of this.listeners.get(type) || []) call(fn, data);
    if (type !== 'state') for (const fn of this.listeners.get('*') || []) call(fn, data, type);
  }

  /** connect opens the room; it resolves with the first welcome and keeps the room open until close(). */
  connect() {
    if (this.connecting) return this.connecting; // one room, one socket: a second call waits for the first
    this.closed = false;
    this.connecting = new Promise((resolve, reject) => {
      this.connected = { resolve, reject };
      this.dial();
    });
    return this.connecting;
  }

  /** close leaves the room for good: no reconnect; pending requests reject with 'closed'. */
  close() {
    this.closed = true;
    if (this.connected) {
      this.connected.reject(new KudosError('closed', 'the room was closed before it opened'));
      this.connected = null;
    }
    this.connecting = null;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    // Forget the socket first: its close event, arriving after a connect() that followed, must not dial again.
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, 'bye');
    this.failPending('closed', 'the room was closed');
    this.emit('state', { state: 'closed' });
  }

  async dial() {
    if (this.closed) return;
    this.emit('state', { state: this.attempt ? 'reconnecting' : 'connecting' });
    let token;
    try {
      token = await this.getToken();
    } catch (err) {
      this.retry({ reason: `getToken failed: ${err && err.message}` });
      return;
    }
    if (this.closed) return;
    const wsBase = this.baseURL.replace(/^http/, 'ws');
    const url = `${wsBase}/ws/streams/${encodeURIComponent(this.stream)}?token=${encodeURIComponent(token)}`;
    let ws;
    try {
      ws = new this.WS(url);
    } catch (err) {
      this.retry({ reason: String(err) });
      return;
    }
    this.ws = ws;
    // A dial can hang (a server going down mid-handshake): give up on it and dial again.
    const giveUp = setTimeout(() => {
      if (this.ws !== ws || ws.readyState === 1) return;
      this.ws = null;
      try {
        ws.close();
      } catch {
        /* it was never open */
      }
      this.retry({ reason: 'connect timeout' });
    }, this.connectTimeoutMs);
    ws.onopen = () => clearTimeout(giveUp);
    ws.onmessage = (ev) => this.receive(String(ev.data));
    ws.onclose = (ev) => {
      clearTimeout(giveUp);
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      this.failPending('unavailable', 'the connection was lost');
      if (!this.closed) this.retry({ code: ev.code, reason: ev.reason });
    };
    ws.onerror = () => {}; // onclose follows and decides
  }

  retry(info) {
    if (this.closed) return;
    const base = Math.min(this.backoffMaxMs, this.backoffMinMs * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt++;
    this.emit('state', { state: 'reconnecting', delayMs: delay, ...info });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.dial(), delay);
  }

  receive(text) {
    for (const line of text.split('\n')) {
      if (!line) continue;
      let env;
      try {
        env = JSON.parse(line);
      } catch {
        continue;
      }
      const data = env.data || {};
      const id = env.id || data.id;
      if ((env.type === 'ack' || env.type === 'error' || env.type === 'pong') && id && this.pending.has(id)) {
        const p = this.pending.get(id);
        this.pending.delete(id);
        clearTimeout(p.timer);
        if (env.type === 'error') p.reject(new KudosError(data.code || 'internal', data.message));
        else p.resolve(data);
        continue;
      }
      if (env.type === 'welcome') {
        this.welcome = data;
        this.attempt = 0;
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.request('ping').catch(() => {}), PING_EVERY_MS);
        this.emit('state', { state: 'open' });
        if (this.connected) {
          this.connected.resolve(data);
          this.connected = null;
        }
      }
      this.emit(env.type, data);
    }
  }

  failPending(code, message) {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new KudosError(code, message));
    }
    this.pending.clear();
  }

  /** request sends a client frame and resolves with its ack (or pong), rejecting with a KudosError. */
  request(type, data, timeoutMs = REQUEST_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      if (this.closed) { // close() was called: for good, unlike a connection being re-established
        reject(new KudosError('closed', 'the room was closed'));
        return;
      }
      const ws = this.ws;
      if (!ws || ws.readyState !== 1) {
        reject(new KudosError('unavailable', 'not connected'));
        return;
      }
      const id = `r${this.nextId++}`;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new KudosError('unavailable', 'no answer in time'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const env = { type, id };
      if (data !== undefined) env.data = data;
      ws.send(JSON.stringify(env));
    });
  }

  /** refreshToken sends a fresh token for this socket (auth.refresh) before the current one expires. */
  async refreshToken() {
    return this.request('auth.refresh', { token: await this.getToken() });
  }

  /** send sends a client frame without an id, so nothing answers it; false when not connected. */
  send(type, data) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    const env = { type };
    if (data !== undefined) env.data = data;
    this.ws.send(JSON.stringify(env));
    return true;
  }

  comment(text) { return this.request('comment.send', { text }); }
  /** like sends count coalesced taps (1..50); likes are not acknowledged. */
  like(count = 1) { return this.send('like.send', { count }); }
  vote(pollId, option) { return this.request('poll.vote', { poll_id: pollId, option }); }
  answer(quizId, questionId, choice) { return this.request('quiz.answer', { quiz_id: quizId, question_id: questionId, choice }); }
  feedback(kind, score) { return this.request('feedback.send', { kind, score }); }
  claimCoupon(couponId) { return this.request('coupon.claim', { coupon_id: couponId }); }
  enterDraw(drawId) { return this.request('draw.enter', { draw_id: drawId }); }
  ask(text) { return this.request('question.ask', { text }); }
  upvote(questionId) { return this.request('question.upvote', { question_id: questionId }); }
  clickProduct(productId) { return this.request('product.click', { product_id: productId }); }
}
