// The embeddable room, /embed/:stream: the viewer page framed by a shop's page (docs/protocol.md, "Embedding").
// viewer.js loads this module when the page carries <meta name="kudos-embed"> (the server adds it, with the
// origins of KUDOS_FRAME_ANCESTORS) and calls start(); the rest of the room is the viewer page's.
//
//   /embed/<stream>?parent=<shop origin>&theme.<name>=<value>…#token=<JWT>
//
// - parent: the origin of the shop page. Messages go to it only, and only when it is one of the server's
//   frame ancestors (or this server's own origin); messages are accepted from it only (from the parent window).
// - theme.<name>: the whitelisted CSS variables of theme.js; also by a kudos:theme message.
// - #token=: the viewer's token (the fragment never reaches a server or a log); else the room asks the parent
//   (kudos:token.request, answered by kudos:token), and without one signs in as a guest (development only).
//
// Test hooks on <body>: .embed-page, data-embed-parent ("" when none is verified), data-ignored-messages (how
// many messages were ignored for their origin or shape), data-theme-rejected / data-theme-ignored (names).
import { tokenFresh } from './kudos.js';
import { parseTheme, themeFromQuery } from './theme.js';

const TOKEN_WAIT_MS = 2000;

/** start reads the embed's settings and URL, applies the theme, listens to the parent and returns the hooks viewer.js calls. */
export function start() {
  const body = document.body;
  body.classList.add('embed-page');
  const settings = readSettings();
  const params = new URLSearchParams(location.search);
  const match = /^\/embed\/([^/]+)\/?$/.exec(location.pathname);
  const stream = match ? decodeURIComponent(match[1]) : '';
  const parent = verifiedParent(params.get('parent'), settings.frame_ancestors || []);
  body.dataset.embedParent = parent;

  let current = takeFragmentToken();
  let waiters = [];
  let ignored = 0;

  const theme = { rejected: new Set(), ignored: new Set() };
  applyTheme(themeFromQuery(params), theme);

  window.addEventListener('message', (ev) => {
    const m = ev.data;
    const known = m && typeof m === 'object' && (m.type === 'kudos:token' || m.type === 'kudos:theme');
    if (!parent || ev.origin !== parent || ev.source !== window.parent || !known) {
      ignored++;
      body.dataset.ignoredMessages = String(ignored);
      return;
    }
    const data = m.data && typeof m.data === 'object' ? m.data : {};
    if (m.type === 'kudos:token') {
      current = typeof data.token === 'string' ? data.token.trim() : '';
      const w = waiters;
      waiters = [];
      for (const resolve of w) resolve(current);
    } else {
      applyTheme(Object.entries(data), theme);
    }
  });

  /** post sends a message to the verified parent; it reports whether there was one. */
  function post(type, data = {}) {
    if (!parent) return false;
    window.parent.postMessage({ source: 'kudos', type, stream, data }, parent);
    return true;
  }

  /** token resolves to the viewer's token from the shop, or '' for the viewer page's own (guest) sign-in. */
  async function token(forceNew = false) {
    if (!forceNew && current && tokenFresh(current)) return current;
    if (!parent) return current;
    const answer = new Promise((resolve) => {
      waiters.push(resolve);
      setTimeout(() => resolve(null), TOKEN_WAIT_MS);
    });
    post('kudos:token.request', { reason: current ? 'expired' : 'none' });
    const got = await answer;
    return got || (got === null ? current : '');
  }

  post('kudos:ready', {});
  return { stream, parent, post, token };
}

function readSettings() {
  try {
    return JSON.parse(document.querySelector('meta[name="kudos-embed"]').content) || {};
  } catch {
    return {};
  }
}

// verifiedParent returns the parent origin of ?parent= when it is a bare origin, allowed to frame the room
// (one of the server's frame ancestors, or this origin), and, where the browser says so, the real parent.
function verifiedParent(p, allowed) {
  if (!p || window.parent === window) return '';
  let origin;
  try {
    origin = new URL(p).origin;
  } catch {
    return '';
  }
  if (origin !== p.replace(/\/$/, '') || !(allowed.includes(origin) || origin === location.origin)) return '';
  const ancestors = location.ancestorOrigins;
  if (ancestors && ancestors.length > 0 && ancestors[0] !== 'null' && ancestors[0] !== origin) return '';
  return origin;
}

// takeFragmentToken reads #token= and removes the fragment from the address, so that it is not kept in history.
function takeFragmentToken() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const t = (hash.get('token') || '').trim();
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  return t;
}

function applyTheme(entries, seen) {
  const { apply, ignored, rejected } = parseTheme(entries);
  for (const [name, value] of apply) document.documentElement.style.setProperty(name, value);
  for (const n of ignored) seen.ignored.add(n);
  for (const n of rejected) seen.rejected.add(n);
  document.body.dataset.themeIgnored = [...seen.ignored].join(' ');
  document.body.dataset.themeRejected = [...seen.rejected].join(' ');
  if (ignored.length || rejected.length) {
    console.warn(`kudos embed theme: ignored ${ignored.join(', ') || 'none'}; rejected ${rejected.join(', ') || 'none'} (docs/protocol.md, "Embedding")`);
  }
}
