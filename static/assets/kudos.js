// Shared browser helpers for the Kudos viewer page and host panel: tokens, the HTTP API with problem+json
// errors, the live socket (the client SDK's KudosRoom, so the pages and shops use one client) and a few
// small DOM and formatting helpers. Plain ES module; it imports the SDK, served by this server, and the pages'
// languages (i18n.js: the texts and the number format).

import { KudosRoom } from '/sdk/kudos-client.js';
import { formatNumber, lang, t } from './i18n.js';

/** Decodes a JWT's payload without checking it (the server does that); null when it is not a JWT. */
export function decodeJwt(token) {
  if (typeof token !== 'string') return null;
  const parts = token.trim().split('.');
  if (parts.length !== 3) return null;
  try {
    let b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    b64 += '='.repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** Reports whether a token decodes and does not expire within the next minute. */
export function tokenFresh(token) {
  const claims = decodeJwt(token);
  if (!claims) return false;
  if (typeof claims.exp !== 'number') return true;
  return claims.exp * 1000 > Date.now() + 60_000;
}

/** An error from the HTTP API, carrying the problem body's stable code. */
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** Calls /api/v1 + path; resolves to the decoded JSON body, rejects with ApiError. */
export async function api(method, path, { token, body } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'unavailable', t('error.unreachable'));
  }
  const text = await res.text();
  let payload = null;
  if (text) {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = null;
    }
  }
  if (!res.ok) {
    const p = payload || {};
    throw new ApiError(res.status, p.code || `http_${res.status}`, p.detail || p.title || res.statusText || t('error.requestFailed'), p.field);
  }
  return payload;
}

/**
 * LiveSocket is the pages' live connection: the client SDK's KudosRoom (static/sdk/kudos-client.js, the same
 * module shops embed) behind the small interface the viewer page and the host panel were written against.
 * The room reconnects with jittered exponential backoff, asks getToken() before every dial, pings every
 * 25 s and matches acks and errors to requests.
 *
 * options.stream, options.getToken()   → the stream, and the token for the next dial
 * options.onFrame(type, data)          → every server frame (welcome included; pongs are answers)
 * options.onState(state, info)         → 'connecting' | 'open' | 'reconnecting' | 'stopped';
 *                                        info = {attempt, delayMs, failuresBeforeOpen, code, reason}
 */
export class LiveSocket {
  constructor({ stream, getToken, onFrame, onState }) {
    this.onState = onState || (() => {});
    this.attempt = 0;
    this.failuresBeforeOpen = 0;
    this.stopped = true;
    this.stopReason = '';
    this.room = new KudosRoom({ baseURL: location.origin, stream, getToken: () => getToken() });
    this.room.on('*', (data, type) => {
      if (type !== 'pong' && onFrame) onFrame(type, data);
    });
    this.room.on('state', (st) => {
      switch (st.state) {
        case 'connecting':
          this.onState('connecting', { attempt: this.attempt, failuresBeforeOpen: this.failuresBeforeOpen });
          break;
        case 'open':
          this.attempt = 0;
          this.failuresBeforeOpen = 0;
          this.onState('open', {});
          break;
        case 'reconnecting':
          if (st.delayMs === undefined) { // the dial itself (a retry's second state event)
            this.onState('connecting', { attempt: this.attempt, failuresBeforeOpen: this.failuresBeforeOpen });
            break;
          }
          this.attempt++;
          this.failuresBeforeOpen++;
          this.onState('reconnecting', { attempt: this.attempt, delayMs: st.delayMs, failuresBeforeOpen: this.failuresBeforeOpen, code: st.code, reason: st.reason });
          break;
        case 'closed':
          this.onState('stopped', { reason: this.stopReason });
          break;
      }
    });
  }

  get isOpen() {
    return !!this.room.ws && this.room.ws.readyState === 1;
  }

  /** Starts connecting (again); a no-op while running. */
  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.room.connect().catch(() => {}); // a room closed before its first welcome: stop() said why
  }

  /** Closes the socket for good and rejects what is pending. */
  stop(reason = 'stopped') {
    this.stopped = true;
    this.stopReason = reason;
    this.room.close();
  }

  /** Sends a frame without waiting for an answer; false when not connected. */
  send(type, data) {
    return this.room.send(type, data);
  }

  /** Sends a frame with an id; resolves with the ack's data, rejects with {code, message} from an error. */
  request(type, data, timeoutMs) {
    return this.room.request(type, data, timeoutMs);
  }
}

/** Creates an element: h('div.card#id', {attrs, dataset, on*}, ...children). */
export function h(spec, props = {}, ...children) {
  const m = /^([a-z0-9-]+)?((?:[.#][\w-]+)*)$/i.exec(spec) || [];
  const el = document.createElement(m[1] || 'div');
  for (const part of (m[2] || '').match(/[.#][\w-]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') {
      for (const [prop, val] of Object.entries(v)) {
        if (prop.startsWith('--')) el.style.setProperty(prop, val);
        else el.style[prop] = val;
      }
    }
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'html') el.innerHTML = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Shorthand for document.querySelector. */
export const $ = (sel, root = document) => root.querySelector(sel);

/** Formats counts compactly in the page's language: 950, 1.2K, 12K, 3.4M (en); 950, 1.2万, 3.4亿 (zh-CN). */
export function compact(n) {
  return formatNumber(n);
}

/** Formats milliseconds left as m:ss (or h:mm:ss). */
export function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** Formats an RFC 3339 time as a local HH:MM, in the page's language. */
export function hhmm(at) {
  const d = at ? new Date(at) : new Date();
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' });
}

/** Percent of part in total, rounded, 0 when total is 0. */
export function pct(part, total) {
  return total > 0 ? Math.round((100 * part) / total) : 0;
}

/** Reads a JSON value from localStorage, or fallback. */
export function loadJSON(key, fallback) {
  try {
    const v = localStorage.getItem(key);
    return v === null ? fallback : JSON.parse(v);
  } catch {
    return fallback;
  }
}

/** Writes a JSON value to localStorage, ignoring quota and privacy-mode errors. */
export function saveJSON(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* storage unavailable */
  }
}

/** Shows a short-lived toast in #toasts; kind is '', 'error', 'success' or 'info'. */
export function toast(message, kind = '', ms = 3500) {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div#toasts', { role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const t = h(`div.toast${kind ? `.toast-${kind}` : ''}`, { 'data-testid': 'toast' }, message);
  box.append(t);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => {
    t.classList.add('toast-out');
    setTimeout(() => t.remove(), 300);
  }, ms);
  return t;
}

/** Human text for a socket or API error code. */
export function errorText(err) {
  const code = err && err.code;
  const friendly = {
    rate_limited: t('error.rate_limited'),
    duplicate: t('error.duplicate'),
    closed: t('error.closed'),
    not_found: t('error.not_found'),
    forbidden: t('error.forbidden'),
    unauthorized: t('error.unauthorized'),
    too_large: t('error.too_large'),
    unavailable: t('error.unavailable'),
  };
  // The server words the other codes' details in English: an English page shows them, another its own text.
  if (lang !== 'en') {
    Object.assign(friendly, {
      invalid: t('error.invalid'),
      bad_frame: t('error.bad_frame'),
      unknown_type: t('error.bad_frame'),
      conflict: t('error.conflict'),
      expired: t('error.expired'),
      limit_reached: t('error.limit_reached'),
      insufficient_points: t('error.insufficient_points'),
      out_of_stock: t('error.out_of_stock'),
      internal: t('error.internal'),
    });
  }
  if (code === 'invalid' && err.message && lang === 'en') return err.message;
  return friendly[code] || (err && err.message) || t('error.generic');
}

/** Hex SHA-256 of a string (its UTF-8) or of bytes, or null where WebCrypto is unavailable (plain http off localhost). */
export async function sha256Hex(data) {
  if (!globalThis.crypto || !crypto.subtle) return null;
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const buf = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The bytes of a hex string, or null when it is not an even-length run of hex digits. */
export function hexBytes(hex) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex)) return null;
  return Uint8Array.from(hex.match(/../g) || [], (b) => parseInt(b, 16));
}
