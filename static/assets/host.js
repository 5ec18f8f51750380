// The Kudos host panel (/host?token=JWT&stream=ID): sign in with a host token, open or create a stream, then
// run it from a dashboard fed by the same WebSocket viewers use (hosts also receive feedback.summary).
//
// Stable hooks for browser tests (ids unless noted):
//   sign-in: #host-token #host-signin #signin-status  · stream pick: #stream-id #stream-open #stream-new-title
//     #stream-new-delay #stream-create  · #dashboard (shown once a stream is open)
//   bar: #viewer-count #like-rate #like-total #stream-status #conn-status[data-state]
//   stream: #stream-title #stream-delay #stream-save #stream-end #viewer-link
//   poll: #poll-question .poll-option-input #poll-add-option #poll-duration #poll-create #poll-tally
//     (.tally-row[data-index] .tally-count) #poll-close #poll-state
//   quiz: #quiz-title .quiz-q (.quiz-q-text .quiz-q-choice .quiz-q-answer .quiz-q-time) #quiz-add-question
//     #quiz-start #quiz-next #quiz-live #quiz-leaderboard #quiz-state
//   coupon: #coupon-title #coupon-stock #coupon-expires #coupon-drop #coupon-live (li[data-id] .remaining)
//   draw: #draw-prize #draw-winners #draw-eligible #draw-keyword #draw-open #draw-commitment #draw-run #draw-result
//   sales (GET …/sales every 3 s): #sales-orders #sales-buyers #sales-gmv #sales-conversion #sales-products
//     (li[data-id] .clicks .orders)   shelf: #product-id #product-title #product-price #product-url #product-add
//     #product-list (li[data-id][data-pinned] .product-pin)
//   feedback: #feedback-summary   leaderboard: #leaderboard   Q&A: #qa-host-list (li[data-id] .qa-pin .qa-answer
//     .qa-hide)   moderation: #mod-chat (li[data-id][data-user] .mod-remove .mod-mute .mod-ban)
//     #slow-mode-seconds #slow-mode-set #banned-words #banned-words-save
//   every card shows HTTP problems in its .card-status line (and a toast).
// Every text is the catalogue's (i18n.js: zh-CN or en by ?lang=, else the browser's language); host.html's static
// text is localized by its data-i18n / data-i18n-attr attributes.
import {
  $, api, clock, compact, decodeJwt, errorText, h, hhmm, LiveSocket, pct, toast, tokenFresh,
} from './kudos.js';
import {
  formatYuan, isEnterToSend, lang, localize, t, tn,
} from './i18n.js';

localize();

const TOKEN_KEY = 'kudos.hostToken';
const MAX_CHAT = 300;
const LEADERBOARD_MS = 5000;
const SALES_MS = 3000;
const params = new URLSearchParams(location.search);

const state = {
  token: '',
  claims: null,
  streamId: '',
  stream: null,
  poll: null,
  quiz: null,
  draw: null,
  coupons: new Map(),
  names: new Map(),
  likeSamples: [],
  pinnedProduct: '',
};

let socket = null;
let leaderboardTimer = 0;
let salesTimer = 0;

// ---------- HTTP with visible errors ----------

/** Calls the API as the host; on failure shows the problem in statusSel and a toast, and returns null. */
async function call(method, path, body, statusSel) {
  const status = statusSel ? $(statusSel) : null;
  if (status) {
    status.textContent = '';
    status.classList.remove('ok');
  }
  try {
    return await api(method, path, { token: state.token, body });
  } catch (err) {
    const text = problemText(err);
    if (status) status.textContent = text;
    toast(text, 'error', 5000);
    if (err.status === 401) tokenRejected();
    return null;
  }
}

// problemText words an HTTP problem for the panel: the server's detail (English) on an English panel, the
// catalogue's text for its stable code on a Chinese one; the code follows in brackets either way.
function problemText(err) {
  return `${lang === 'en' ? err.message : errorText(err)}${err.code ? ` (${err.code})` : ''}`;
}

function ok(statusSel, text) {
  const el = $(statusSel);
  el.textContent = text;
  el.classList.add('ok');
  setTimeout(() => {
    if (el.textContent === text) el.textContent = '';
  }, 4000);
}

const sp = (path = '') => `/streams/${encodeURIComponent(state.streamId)}${path}`;

// ---------- sign in ----------

function showClaims() {
  const token = $('#host-token').value.trim();
  const claims = decodeJwt(token);
  const box = $('#token-claims');
  if (!token) {
    box.replaceChildren();
    return;
  }
  if (!claims) {
    box.replaceChildren(h('span.bad', {}, t('host.claims.notJwt')));
    return;
  }
  const exp = claims.exp ? new Date(claims.exp * 1000) : null;
  box.replaceChildren(
    h('span', {}, t('host.claims.name'), ' ', h('b', {}, claims.name || '—')),
    h('span', {}, t('host.claims.role'), ' ', h('b', {}, claims.role ? roleName(claims.role) : '—')),
    h('span', {}, t('host.claims.stream'), ' ', h('b', {}, claims.stream || t('host.claims.anyStream'))),
    exp ? h(`span${tokenFresh(token) ? '' : '.bad'}`, {}, tokenFresh(token) ? t('host.claims.expires', { time: exp.toLocaleString(lang) }) : t('host.claims.expired')) : '',
  );
}

function roleName(role) {
  return { viewer: t('host.role.viewer'), host: t('host.role.host'), admin: t('host.role.admin') }[role] || role;
}

function signIn() {
  const token = $('#host-token').value.trim();
  const claims = decodeJwt(token);
  const status = $('#signin-status');
  if (!claims) {
    status.textContent = t('host.signin.pasteValid');
    return false;
  }
  if (!tokenFresh(token)) {
    status.textContent = t('host.signin.expired');
    return false;
  }
  if (!['host', 'admin'].includes(claims.role)) {
    status.textContent = t('host.signin.wrongRole', { role: roleName(claims.role || 'viewer') });
    return false;
  }
  status.textContent = '';
  state.token = token;
  state.claims = claims;
  try {
    localStorage.setItem(TOKEN_KEY, token);
  } catch {
    /* storage unavailable */
  }
  $('#user-name').textContent = claims.name || claims.sub || t('host.defaultName');
  $('#user-role').textContent = roleName(claims.role);
  $('#bar-user').hidden = false;
  $('#signin-view').hidden = true;
  $('#pick-view').hidden = false;
  $('#stream-id').value = params.get('stream') || claims.stream || '';
  return true;
}

function signOut() {
  try {
    localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage unavailable */
  }
  if (socket) socket.stop('signed out');
  clearInterval(leaderboardTimer);
  clearInterval(salesTimer);
  location.href = params.get('lang') ? `/host?lang=${encodeURIComponent(params.get('lang'))}` : '/host'; // the panel keeps its language
}

$('#host-token').addEventListener('input', showClaims);
$('#host-signin').addEventListener('click', async () => {
  if (signIn() && $('#stream-id').value.trim()) await openStream($('#stream-id').value.trim(), '#signin-status');
});
$('#host-signout').addEventListener('click', signOut);

// ---------- choose a stream ----------

$('#stream-open').addEventListener('click', () => {
  const id = $('#stream-id').value.trim();
  if (!id) {
    $('#open-status').textContent = t('host.pick.enterId');
    return;
  }
  openStream(id, '#open-status');
});

$('#stream-create').addEventListener('click', async () => {
  const title = $('#stream-new-title').value.trim();
  if (!title) {
    $('#create-status').textContent = t('host.pick.needTitle');
    return;
  }
  const body = { title, video_delay_ms: Number($('#stream-new-delay').value) || 0 };
  if (state.claims.stream) body.id = state.claims.stream;
  const s = await call('POST', '/streams', body, '#create-status');
  if (s) {
    toast(t('host.toast.created'), 'success');
    await openStream(s.id, '#create-status');
  }
});

async function openStream(id, statusSel) {
  state.streamId = id;
  const s = await call('GET', sp(), undefined, statusSel);
  if (!s) return;
  const url = new URL(location.href);
  url.searchParams.set('stream', id);
  url.searchParams.delete('token');
  history.replaceState(null, '', url);
  $('#pick-view').hidden = true;
  $('#signin-view').hidden = true;
  $('#dashboard').hidden = false;
  $('#bar-stream').hidden = false;
  $('#bar-stats').hidden = false;
  renderStream(s);
  if (typeof s.viewers === 'number') $('#viewer-count').textContent = compact(s.viewers);
  $('#stream-id-chip').textContent = id;
  $('#viewer-link').href = `/?stream=${encodeURIComponent(id)}${params.get('lang') ? `&lang=${encodeURIComponent(params.get('lang'))}` : ''}`;
  connect();
  loadModeration();
  loadFeedback();
  loadLeaderboard();
  clearInterval(leaderboardTimer);
  leaderboardTimer = setInterval(loadLeaderboard, LEADERBOARD_MS);
  loadProducts();
  loadSales();
  clearInterval(salesTimer);
  salesTimer = setInterval(loadSales, SALES_MS);
}

function renderStream(s) {
  state.stream = s;
  $('#bar-title').textContent = s.title || s.id;
  $('#stream-title').value = s.title || '';
  $('#stream-delay').value = String(s.video_delay_ms || 0);
  const pill = $('#stream-status');
  const status = s.status || 'live';
  pill.textContent = { live: t('host.status.live'), ended: t('host.status.ended') }[status] || status;
  pill.dataset.status = status;
  const ended = s.status === 'ended';
  document.body.classList.toggle('stream-ended', ended);
  $('#stream-end').disabled = ended;
  document.title = t('host.docTitleStream', { title: s.title || s.id });
}

// ---------- live socket ----------

function connect() {
  if (socket) socket.stop('reconnect');
  socket = new LiveSocket({
    stream: state.streamId,
    getToken: () => state.token,
    onFrame: handleFrame,
    onState: (s, info) => {
      const dot = $('#conn-status');
      dot.dataset.state = s === 'connecting' && info.attempt ? 'reconnecting' : s;
      dot.title = { open: t('host.conn.open'), connecting: t('host.conn.connecting'), reconnecting: t('host.conn.reconnecting'), stopped: t('host.conn.stopped') }[dot.dataset.state] || '';
      dot.setAttribute('aria-label', dot.title);
      if (s === 'reconnecting' && info.failuresBeforeOpen === 2) checkToken();
    },
  });
  socket.start();
}

// Browsers hide why a WebSocket handshake failed; after repeated failures ask the HTTP API whether the
// token is still accepted (a restarted development server has a new secret).
async function checkToken() {
  try {
    await api('GET', sp('/moderation'), { token: state.token });
  } catch (err) {
    if (err.status === 401) tokenRejected();
  }
}

function tokenRejected() {
  if (!$('#signin-view').hidden) return;
  if (socket) {
    socket.stop('token rejected');
    $('#conn-status').dataset.state = 'stopped';
  }
  clearInterval(leaderboardTimer);
  clearInterval(salesTimer);
  toast(t('host.token.rejectedToast'), 'error', 8000);
  $('#pick-view').hidden = true;
  $('#signin-view').hidden = false;
  $('#signin-status').textContent = t('host.token.rejected');
  window.scrollTo(0, 0);
}

function handleFrame(type, d) {
  switch (type) {
    case 'welcome':
      if (d.stream) renderStream(d.stream);
      setViewers(d.viewers);
      resetChat(d.recent || []);
      if (d.likes) onLikes(d.likes);
      if (d.poll) showPollTally(d.poll);
      if (d.quiz) onQuizQuestion(d.quiz);
      for (const c of d.coupons || []) addCoupon(c);
      if (d.draw) showDraw(d.draw);
      loadProducts(d.product ? d.product.id : '');
      if (typeof d.slow_mode_s === 'number') $('#slow-mode-seconds').value = String(d.slow_mode_s);
      return;
    case 'presence': return setViewers(d.viewers);
    case 'product.pinned': return loadProducts(d.product ? d.product.id : '');
    case 'product.unpinned': return state.pinnedProduct === d.product_id ? loadProducts('') : undefined;
    case 'likes': return onLikes(d);
    case 'comment': return addChat(d);
    case 'comment.removed': return markRemoved(d.id);
    case 'poll.opened': return showPollTally(d.poll);
    case 'poll.tally': return updateTally(d, false);
    case 'poll.closed': return updateTally(d, true);
    case 'quiz.question': return onQuizQuestion(d);
    case 'quiz.reveal': return onQuizReveal(d);
    case 'quiz.leaderboard': return renderQuizBoard(d.top || [], d.final);
    case 'coupon.drop': return addCoupon(d);
    case 'coupon.stock': return onCouponStock(d);
    case 'draw.opened': return showDraw(d);
    case 'draw.result': return showDrawResult(d);
    case 'feedback.summary': return renderFeedback(d);
    case 'questions': return renderQuestions(d.questions || []);
    case 'stream.ended': return renderStream({ ...state.stream, status: 'ended' });
    case 'notice':
      if (d.kind === 'stream_ended') renderStream({ ...state.stream, status: 'ended' });
      else if (d.message) toast(d.message, 'info');
      return;
    case 'error': return toast(errorText(d), 'error');
    default: return undefined;
  }
}

function setViewers(n) {
  if (typeof n !== 'number') return;
  const el = $('#viewer-count');
  el.textContent = compact(n);
  el.dataset.value = String(n);
}

function onLikes(d) {
  const rate = Number(d.per_second) || 0;
  $('#like-rate').textContent = rate < 10 ? rate.toFixed(1).replace(/\.0$/, '') : compact(Math.round(rate));
  $('#like-rate').dataset.value = String(rate);
  $('#like-total').textContent = compact(d.total || 0);
  $('#like-total').dataset.value = String(d.total || 0);
}

// One sample a second, so the sparkline reads as "likes per second over the last two minutes".
setInterval(() => {
  const s = state.likeSamples;
  s.push(Number($('#like-rate').dataset.value) || 0);
  if (s.length > 120) s.shift();
  const max = Math.max(1, ...s);
  const pts = s.map((v, i) => `${((i / 119) * 120).toFixed(1)},${(31 - (v / max) * 29).toFixed(1)}`).join(' ');
  $('#like-spark polyline').setAttribute('points', pts);
}, 1000);

// ---------- stream card ----------

$('#stream-save').addEventListener('click', async () => {
  const body = { title: $('#stream-title').value.trim(), video_delay_ms: Number($('#stream-delay').value) || 0 };
  const s = await call('PATCH', sp(), body, '#stream-status-msg');
  if (s) {
    renderStream(s);
    ok('#stream-status-msg', t('host.saved'));
  }
});

$('#stream-end').addEventListener('click', async () => {
  if (!confirm(t('host.stream.confirmEnd'))) return;
  const s = await call('POST', sp('/end'), undefined, '#stream-status-msg');
  if (s) {
    renderStream(s);
    toast(t('host.toast.ended'), 'info');
  }
});

// ---------- chat and moderation ----------

const modChat = $('#mod-chat');

function nearBottom(el) {
  return el.scrollHeight - el.scrollTop - el.clientHeight < 40;
}

function resetChat(recent) {
  modChat.replaceChildren();
  for (const c of recent) addChat(c);
  modChat.scrollTop = modChat.scrollHeight;
}

function addChat(c) {
  if (!c || (c.id && modChat.querySelector(`li[data-id="${CSS.escape(c.id)}"]`))) return;
  if (c.user && c.name) state.names.set(c.user, c.name);
  const stick = nearBottom(modChat);
  const isHost = c.role === 'host' || c.role === 'admin';
  const who = c.name || c.user;
  const actions = isHost ? h('span.mod-actions') : h('span.mod-actions', {},
    h('button.mod-remove', { type: 'button', title: t('host.mod.remove'), 'aria-label': t('host.mod.remove'), onclick: () => moderate({ action: 'remove_comment', comment_id: c.id }, t('host.mod.removed')) }, '✕'),
    h('button.mod-mute', { type: 'button', title: t('host.mod.muteTitle'), onclick: () => moderate({ action: 'mute', user: c.user, duration_s: 600 }, t('host.mod.muted', { name: who })) }, t('host.mod.mute')),
    h('button.mod-ban', { type: 'button', title: t('host.mod.banTitle'), onclick: () => confirm(t('host.mod.confirmBan', { name: who })) && moderate({ action: 'ban', user: c.user }, t('host.mod.banned', { name: who })) }, t('host.mod.ban')),
  );
  const li = h('li.mod-item', { dataset: { id: c.id || '', user: c.user || '' } },
    h('span.mod-time', {}, hhmm(c.at)),
    h('span.mod-msg', {}, isHost ? h('span.role-badge', {}, t('host.badge.host')) : '', h('b', {}, c.name || c.user || t('host.guest')), ' ', c.text),
    actions,
  );
  modChat.append(li);
  while (modChat.children.length > MAX_CHAT) modChat.firstElementChild.remove();
  $('#chat-count').textContent = String(modChat.children.length);
  if (stick) modChat.scrollTop = modChat.scrollHeight;
}

function markRemoved(id) {
  const li = modChat.querySelector(`li[data-id="${CSS.escape(String(id))}"]`);
  if (li) li.classList.add('removed');
}

async function moderate(body, success) {
  const res = await call('POST', sp('/moderation'), body, '#mod-status');
  if (res) {
    ok('#mod-status', success);
    if (['mute', 'unmute', 'ban', 'unban', 'banned_words'].includes(body.action)) loadModeration();
  }
  return res;
}

async function loadModeration() {
  const m = await call('GET', sp('/moderation'), undefined, '#mod-status');
  if (!m) return;
  $('#slow-mode-seconds').value = String(m.slow_mode_s || 0);
  if (document.activeElement !== $('#banned-words')) $('#banned-words').value = (m.banned_words || []).join(', ');
  const list = (title, users, action, label) => (users && users.length ? h('div.mod-list', {}, h('span.mod-list-title', {}, title),
    ...users.map((u) => h('span.user-chip', {}, state.names.get(u) || u,
      h('button', { type: 'button', title: label, 'aria-label': `${label}: ${state.names.get(u) || u}`, onclick: () => moderate({ action, user: u }, t('host.mod.done', { action: label, name: state.names.get(u) || u })) }, '×')))) : '');
  $('#mod-lists').replaceChildren(list(t('host.mod.mutedList'), m.muted, 'unmute', t('host.mod.unmute')), list(t('host.mod.bannedList'), m.banned, 'unban', t('host.mod.unban')));
}

$('#slow-mode-set').addEventListener('click', () => {
  const seconds = Math.max(0, Number($('#slow-mode-seconds').value) || 0);
  moderate({ action: 'slow_mode', seconds }, seconds ? t('host.mod.slowOn', { seconds }) : t('host.mod.slowOff'));
});

$('#banned-words-save').addEventListener('click', () => {
  const words = $('#banned-words').value.split(/[,\n]/).map((w) => w.trim()).filter(Boolean);
  moderate({ action: 'banned_words', words }, tn('host.mod.wordsSaved', words.length));
});

// Enter sends, except the Enter that ends an input method's composition (picking the characters of a pinyin
// word): that one belongs to the IME. The form's own implicit submission is replaced by this handler.
$('#host-chat-input').addEventListener('keydown', (ev) => {
  if (ev.key !== 'Enter') return;
  if (!isEnterToSend(ev)) return;
  ev.preventDefault();
  $('#host-say').requestSubmit();
});

$('#host-say').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('#host-chat-input');
  const text = input.value.trim();
  if (!text || !socket) return;
  try {
    await socket.request('comment.send', { text });
    input.value = '';
  } catch (err) {
    ok('#mod-status', errorText(err));
  }
});

// ---------- polls ----------

function addPollOption(value = '') {
  const list = $('#poll-options');
  if (list.children.length >= 10) return;
  const row = h('div.option-row', {},
    h('input.poll-option-input', { maxlength: '80', value, placeholder: t('host.poll.optionPlaceholder', { n: list.children.length + 1 }), 'aria-label': t('host.poll.optionPlaceholder', { n: list.children.length + 1 }) }),
    h('button.icon-btn', { type: 'button', title: t('host.poll.removeOption'), 'aria-label': t('host.poll.removeOption'), onclick: () => { if (list.children.length > 2) { row.remove(); syncPollButtons(); } } }, '−'),
  );
  list.append(row);
  syncPollButtons();
}

function syncPollButtons() {
  const n = $('#poll-options').children.length;
  $('#poll-add-option').disabled = n >= 10;
  document.querySelectorAll('#poll-options .icon-btn').forEach((b) => { b.disabled = n <= 2; });
}

$('#poll-add-option').addEventListener('click', () => addPollOption());

$('#poll-create').addEventListener('click', async () => {
  const question = $('#poll-question').value.trim();
  const options = [...document.querySelectorAll('.poll-option-input')].map((i) => i.value.trim()).filter(Boolean);
  if (!question || options.length < 2) {
    $('#poll-status').textContent = t('host.poll.needOptions');
    return;
  }
  const poll = await call('POST', sp('/polls'), { question, options, duration_s: Math.max(0, Number($('#poll-duration').value) || 0) }, '#poll-status');
  if (poll) {
    showPollTally(poll);
    ok('#poll-status', t('host.poll.live'));
  }
});

$('#poll-close').addEventListener('click', async () => {
  if (!state.poll) return;
  const poll = await call('POST', sp(`/polls/${encodeURIComponent(state.poll.id)}/close`), undefined, '#poll-status');
  if (poll) updateTally({ poll_id: poll.id, counts: poll.counts, total: poll.total, winner: poll.winner ?? winnerOf(poll.counts) }, true);
});

function winnerOf(counts = []) {
  let w = -1;
  counts.forEach((c, i) => { if (c > 0 && (w < 0 || c > counts[w])) w = i; });
  return w;
}

function showPollTally(p) {
  if (!p || !p.id) return;
  if (state.poll && state.poll.id === p.id && state.poll.status === 'closed') return;
  state.poll = { ...p, counts: p.counts || p.options.map(() => 0), total: p.total || 0 };
  const box = $('#poll-tally');
  box.replaceChildren(
    h('div.tally-q', {}, p.question),
    ...p.options.map((o, i) => h('div.tally-row', { dataset: { index: String(i) } },
      h('div.tally-label', {}, h('span', {}, o), h('span.tally-count')),
      h('div.tally-track', {}, h('span.tally-fill')))),
    h('div.tally-foot', {}, h('span#poll-total'), h('span.countdown#poll-countdown', p.closes_ms && p.status !== 'closed' ? { dataset: { deadline: String(p.closes_ms) } } : {})),
  );
  box.hidden = false;
  updateTally({ poll_id: p.id, counts: state.poll.counts, total: state.poll.total, winner: p.winner }, p.status === 'closed');
}

function updateTally(d, closed) {
  const p = state.poll;
  if (!p || p.id !== d.poll_id) return;
  if (Array.isArray(d.counts)) p.counts = d.counts;
  p.total = typeof d.total === 'number' ? d.total : p.counts.reduce((a, b) => a + b, 0);
  if (closed) {
    p.status = 'closed';
    p.winner = typeof d.winner === 'number' ? d.winner : winnerOf(p.counts);
    const cd = $('#poll-countdown');
    if (cd) {
      delete cd.dataset.deadline;
      cd.textContent = '';
    }
  }
  document.querySelectorAll('#poll-tally .tally-row').forEach((row, i) => {
    const n = p.counts[i] || 0;
    row.querySelector('.tally-count').textContent = `${n} · ${pct(n, p.total)}%`;
    row.querySelector('.tally-fill').style.width = `${pct(n, p.total)}%`;
    row.classList.toggle('winner', closed && p.winner === i);
  });
  $('#poll-total').textContent = `${tn('host.votes', p.total)}${closed ? (p.winner >= 0 ? t('host.poll.winner', { option: p.options[p.winner] }) : t('host.poll.noVotes')) : ''}`;
  const open = p.status !== 'closed';
  $('#poll-close').hidden = !open;
  $('#poll-builder').hidden = open;
  $('#poll-state').textContent = open ? t('host.state.live') : t('host.state.closed');
  $('#poll-state').dataset.state = open ? 'live' : 'closed';
}

// ---------- quiz ----------

function addQuizQuestion(q = { text: '', choices: ['', '', ''], answer: 0, time_limit_s: 20 }) {
  const list = $('#quiz-questions');
  const n = list.children.length;
  const name = `quiz-answer-${Date.now()}-${n}`;
  const choices = h('div.quiz-q-choices');
  const addChoice = (value = '', checked = false) => {
    if (choices.children.length >= 6) return;
    const idx = choices.children.length;
    choices.append(h('label.choice-row', {},
      h('input.quiz-q-answer', { type: 'radio', name, value: String(idx), checked, title: t('host.quiz.correctAnswer'), 'aria-label': t('host.quiz.correctAnswer') }),
      h('input.quiz-q-choice', { maxlength: '80', value, placeholder: t('host.quiz.choicePlaceholder', { n: idx + 1 }), 'aria-label': t('host.quiz.choicePlaceholder', { n: idx + 1 }) })));
  };
  q.choices.forEach((c, i) => addChoice(c, i === q.answer));
  const li = h('li.quiz-q', {},
    h('div.quiz-q-head', {},
      h('input.quiz-q-text', { maxlength: '200', value: q.text, placeholder: t('host.quiz.questionPlaceholder'), 'aria-label': t('host.quiz.questionPlaceholder') }),
      h('label.field.inline', {}, h('span', {}, t('host.quiz.time')), h('input.quiz-q-time', { type: 'number', min: '5', max: '120', value: String(q.time_limit_s) })),
      h('button.icon-btn', { type: 'button', title: t('host.quiz.removeQuestion'), 'aria-label': t('host.quiz.removeQuestion'), onclick: () => { if (list.children.length > 1) li.remove(); } }, '−')),
    choices,
    h('button.link-btn', { type: 'button', onclick: () => addChoice() }, t('host.quiz.addChoice')),
    h('div.hint', {}, t('host.quiz.pickHint')),
  );
  list.append(li);
}

$('#quiz-add-question').addEventListener('click', () => addQuizQuestion());

function readQuiz() {
  const questions = [];
  for (const [i, li] of [...document.querySelectorAll('#quiz-questions .quiz-q')].entries()) {
    const text = li.querySelector('.quiz-q-text').value.trim();
    const rows = [...li.querySelectorAll('.choice-row')];
    const choices = [];
    let answer = -1;
    for (const row of rows) {
      const v = row.querySelector('.quiz-q-choice').value.trim();
      if (!v) continue;
      if (row.querySelector('.quiz-q-answer').checked) answer = choices.length;
      choices.push(v);
    }
    const limit = Number(li.querySelector('.quiz-q-time').value) || 20;
    if (!text) throw new Error(t('host.quiz.errNoText', { n: i + 1 }));
    if (choices.length < 2) throw new Error(t('host.quiz.errChoices', { n: i + 1 }));
    if (answer < 0) throw new Error(t('host.quiz.errAnswer', { n: i + 1 }));
    if (limit < 5 || limit > 120) throw new Error(t('host.quiz.errTime', { n: i + 1 }));
    questions.push({ text, choices, answer, time_limit_s: limit });
  }
  return questions;
}

$('#quiz-start').addEventListener('click', async () => {
  let questions;
  try {
    questions = readQuiz();
  } catch (err) {
    $('#quiz-status').textContent = err.message;
    return;
  }
  const quiz = await call('POST', sp('/quizzes'), { title: $('#quiz-title').value.trim(), questions }, '#quiz-status');
  if (!quiz) return;
  state.quiz = { id: quiz.id, count: quiz.count || questions.length, questions, current: -1 };
  $('#quiz-builder').hidden = true;
  $('#quiz-leaderboard').hidden = true;
  await nextQuestion();
});

$('#quiz-next').addEventListener('click', nextQuestion);
$('#quiz-new').addEventListener('click', () => {
  state.quiz = null;
  $('#quiz-builder').hidden = false;
  $('#quiz-live').hidden = true;
  $('#quiz-next').hidden = true;
  $('#quiz-new').hidden = true;
  $('#quiz-leaderboard').hidden = true;
  $('#quiz-state').textContent = t('host.state.draft');
});

async function nextQuestion() {
  if (!state.quiz) return;
  $('#quiz-next').disabled = true;
  const res = await call('POST', sp(`/quizzes/${encodeURIComponent(state.quiz.id)}/next`), undefined, '#quiz-status');
  $('#quiz-next').disabled = false;
  if (!res) return;
  if (res.status === 'finished' || !res.question_id) {
    finishQuiz(res);
    return;
  }
  onQuizQuestion(res);
}

function finishQuiz(res) {
  $('#quiz-state').textContent = t('host.state.finished');
  $('#quiz-next').hidden = true;
  $('#quiz-new').hidden = false;
  $('#quiz-live').replaceChildren(h('div.quiz-done', {}, t('host.quiz.finishedLine')));
  if (Array.isArray(res.top)) renderQuizBoard(res.top, true);
}

function onQuizQuestion(q) {
  if (!state.quiz || state.quiz.id !== q.quiz_id) state.quiz = { id: q.quiz_id, count: q.count, questions: null };
  state.quiz.current = q.index;
  state.quiz.questionId = q.question_id;
  const known = state.quiz.questions && state.quiz.questions[q.index];
  const live = $('#quiz-live');
  live.replaceChildren(
    h('div.quiz-live-head', {}, h('span', {}, t('host.quiz.progress', { n: q.index + 1, count: q.count })), h('span.countdown', { dataset: { deadline: String(q.deadline_ms || 0) } })),
    h('div.quiz-live-q', {}, q.text),
    h('ol.quiz-live-choices', {}, (q.choices || []).map((c, i) => h(`li${known && known.answer === i ? '.answer' : ''}`, { dataset: { index: String(i) } },
      h('div.tally-label', {}, h('span', {}, c), h('span.tally-count')), h('div.tally-track', {}, h('span.tally-fill'))))),
    h('div.tally-foot#quiz-reveal-foot', {}, t('host.quiz.revealHint')),
  );
  live.hidden = false;
  $('#quiz-builder').hidden = true;
  $('#quiz-next').hidden = false;
  $('#quiz-next').textContent = q.index + 1 >= q.count ? t('host.quiz.finish') : t('host.quiz.next');
  $('#quiz-state').textContent = t('host.state.live');
}

function onQuizReveal(d) {
  if (!state.quiz || state.quiz.questionId !== d.question_id) return;
  const counts = d.counts || [];
  const total = d.total || counts.reduce((a, b) => a + b, 0);
  document.querySelectorAll('#quiz-live .quiz-live-choices li').forEach((li, i) => {
    li.classList.toggle('answer', i === d.answer);
    li.querySelector('.tally-count').textContent = `${counts[i] || 0} · ${pct(counts[i] || 0, total)}%`;
    li.querySelector('.tally-fill').style.width = `${pct(counts[i] || 0, total)}%`;
  });
  const cd = document.querySelector('#quiz-live .countdown');
  if (cd) {
    delete cd.dataset.deadline;
    cd.textContent = t('host.quiz.revealed');
  }
  const right = typeof d.correct === 'number' ? d.correct : counts[d.answer] || 0;
  $('#quiz-reveal-foot').textContent = t('host.quiz.revealFoot', { total, right, pct: pct(right, total) });
}

function renderQuizBoard(top, final) {
  const board = $('#quiz-leaderboard');
  board.hidden = false;
  board.replaceChildren(
    h('li.board-head', {}, final ? t('host.quiz.finalBoard') : t('host.quiz.board')),
    ...top.slice(0, 10).map((r) => h('li.board-row', {}, h('span.rank', {}, `#${r.rank}`), h('span.who', {}, r.name || r.user), h('span.score', {}, compact(r.score)))),
  );
  if (!top.length) board.append(h('li.empty', {}, t('host.quiz.noScores')));
  if (final) finishQuizState();
}

function finishQuizState() {
  $('#quiz-state').textContent = t('host.state.finished');
  $('#quiz-next').hidden = true;
  $('#quiz-new').hidden = false;
}

// ---------- coupons ----------

$('#coupon-drop').addEventListener('click', async () => {
  const title = $('#coupon-title').value.trim();
  const stock = Number($('#coupon-stock').value);
  const expires = Number($('#coupon-expires').value);
  if (!title || !(stock > 0) || !(expires > 0)) {
    $('#coupon-status').textContent = t('host.coupon.invalid');
    return;
  }
  const c = await call('POST', sp('/coupons'), { title, stock, expires_s: expires }, '#coupon-status');
  if (c) {
    addCoupon(c);
    ok('#coupon-status', t('host.coupon.dropped'));
  }
});

function addCoupon(c) {
  if (!c || !c.id) return;
  state.coupons.set(c.id, { ...c });
  let li = $(`#coupon-live li[data-id="${CSS.escape(c.id)}"]`);
  if (!li) {
    li = h('li', { dataset: { id: c.id } },
      h('div.coupon-line', {}, h('b', {}, c.title), h('span.countdown', { dataset: { deadline: String(c.expires_ms || 0) } })),
      h('div.tally-track', {}, h('span.tally-fill')),
      h('div.remaining'));
    $('#coupon-live').prepend(li);
  }
  onCouponStock({ id: c.id, remaining: c.remaining ?? c.stock });
}

function onCouponStock(d) {
  const c = state.coupons.get(d.id);
  const li = $(`#coupon-live li[data-id="${CSS.escape(String(d.id))}"]`);
  if (!c || !li) return;
  c.remaining = d.remaining;
  const claimed = c.stock - c.remaining;
  li.querySelector('.remaining').textContent = t('host.coupon.left', { remaining: c.remaining, stock: c.stock, claimed });
  li.querySelector('.remaining').dataset.value = String(c.remaining);
  li.querySelector('.tally-fill').style.width = `${pct(claimed, c.stock)}%`;
}

// ---------- lucky draw ----------

$('#draw-eligible').addEventListener('change', () => {
  $('#draw-keyword-field').hidden = $('#draw-eligible').value !== 'keyword';
});

$('#draw-open').addEventListener('click', async () => {
  const prize = $('#draw-prize').value.trim();
  const winners = Number($('#draw-winners').value) || 1;
  const eligible = $('#draw-eligible').value;
  if (!prize) {
    $('#draw-status').textContent = t('host.draw.needPrize');
    return;
  }
  const body = { prize, winners, eligible };
  if (eligible === 'keyword') {
    body.keyword = $('#draw-keyword').value.trim();
    if (!body.keyword) {
      $('#draw-status').textContent = t('host.draw.needKeyword');
      return;
    }
  }
  const d = await call('POST', sp('/draws'), body, '#draw-status');
  if (d) {
    showDraw(d);
    ok('#draw-status', t('host.draw.isOpen'));
  }
});

$('#draw-run').addEventListener('click', async () => {
  if (!state.draw) return;
  $('#draw-run').disabled = true;
  const r = await call('POST', sp(`/draws/${encodeURIComponent(state.draw.id)}/run`), undefined, '#draw-status');
  if (r) showDrawResult(r);
  else $('#draw-run').disabled = false;
});

function showDraw(d) {
  if (!d || !d.id) return;
  if (state.draw && state.draw.id === d.id && state.draw.status === 'drawn') return;
  state.draw = { ...d };
  $('#draw-commitment').textContent = d.commitment || '';
  $('#draw-commitment-box').hidden = !d.commitment;
  $('#draw-result').hidden = true;
  const drawn = d.status === 'drawn';
  $('#draw-run').disabled = drawn;
  $('#draw-open').disabled = !drawn;
  $('#draw-state').textContent = drawn ? t('host.state.drawn') : t('host.state.open');
}

function showDrawResult(r) {
  state.draw = { ...(state.draw || {}), id: r.id, status: 'drawn', commitment: r.commitment };
  const winners = r.winners || [];
  const box = $('#draw-result');
  box.replaceChildren(
    h('div.draw-title', {}, t('host.draw.result', { prize: r.prize || t('host.draw.prizeFallback'), outcome: winners.length ? tn('host.draw.winnersCount', winners.length) : t('host.draw.noEntrants') })),
    h('ul.draw-winners', {}, winners.map((w) => h('li', { dataset: { user: w.user } }, w.name || w.user))),
    h('div.commit', {}, t('host.draw.seed'), ' ', h('code#draw-seed', {}, r.seed || '')),
    h('div.hint', {}, t('host.draw.verifyHint', { count: (r.entrants || []).length })),
  );
  box.hidden = false;
  $('#draw-commitment').textContent = r.commitment || $('#draw-commitment').textContent;
  $('#draw-commitment-box').hidden = !$('#draw-commitment').textContent;
  $('#draw-run').disabled = true;
  $('#draw-open').disabled = false;
  $('#draw-state').textContent = t('host.state.drawn');
}

// ---------- feedback ----------

async function loadFeedback() {
  const f = await call('GET', sp('/feedback'), undefined, '#feedback-status');
  if (f) renderFeedback(f);
}

$('#feedback-refresh').addEventListener('click', loadFeedback);

// Ask every viewer, now, for a rating or an NPS score (POST …/feedback/prompt): their page shows the question.
for (const btn of [$('#feedback-ask-rating'), $('#feedback-ask-nps')]) {
  btn.addEventListener('click', async () => {
    const p = await call('POST', sp('/feedback/prompt'), { kind: btn.dataset.kind }, '#feedback-status');
    if (p) ok('#feedback-status', t('host.feedback.asked', { question: p.question }));
  });
}

function renderFeedback(f) {
  const r = f.ratings || { count: 0, average: 0, distribution: [0, 0, 0, 0, 0] };
  const n = f.nps || { count: 0, score: 0, promoters: 0, passives: 0, detractors: 0 };
  const dist = r.distribution || [0, 0, 0, 0, 0];
  const maxD = Math.max(1, ...dist);
  const avg = Number(r.average) || 0;
  const npsClass = n.score >= 30 ? 'good' : n.score >= 0 ? 'mid' : 'bad';
  $('#feedback-summary').replaceChildren(
    h('div.fb-block', {},
      h('div.fb-big', {}, h('span#feedback-average', {}, avg.toFixed(1)), h('span.fb-stars', { style: { '--avg': String(avg) } }, '★★★★★')),
      h('div.fb-sub', {}, tn('host.feedback.ratings', r.count)),
      h('div.fb-dist', {}, [5, 4, 3, 2, 1].map((s) => h('div.fb-row', {},
        h('span', {}, `${s}★`), h('div.tally-track', {}, h('span.tally-fill', { style: { width: `${(100 * (dist[s - 1] || 0)) / maxD}%` } })), h('span.fb-n', {}, String(dist[s - 1] || 0))))),
    ),
    h('div.fb-block', {},
      h(`div.fb-big.nps-${npsClass}`, {}, h('span#feedback-nps', {}, String(Math.round(n.score || 0))), h('span.fb-unit', {}, t('host.feedback.nps'))),
      h('div.fb-sub', {}, tn('host.feedback.responses', n.count)),
      h('div.nps-bar', {},
        h('span.det', { style: { flex: String(n.detractors || 0) }, title: t('host.feedback.detractorsTitle') }),
        h('span.pas', { style: { flex: String(n.passives || 0) }, title: t('host.feedback.passivesTitle') }),
        h('span.pro', { style: { flex: String(n.promoters || 0) }, title: t('host.feedback.promotersTitle') })),
      h('div.nps-legend', {}, h('span.det', {}, t('host.feedback.detractors', { count: n.detractors || 0 })), h('span.pas', {}, t('host.feedback.passives', { count: n.passives || 0 })), h('span.pro', {}, t('host.feedback.promoters', { count: n.promoters || 0 }))),
    ),
  );
}

// ---------- leaderboard ----------

async function loadLeaderboard() {
  if (!state.streamId || document.hidden) return;
  let res;
  try {
    res = await api('GET', sp('/leaderboard'), { token: state.token });
    $('#leaderboard-status').textContent = '';
  } catch (err) {
    $('#leaderboard-status').textContent = problemText(err);
    return;
  }
  const top = res.top || [];
  $('#leaderboard-empty').hidden = top.length > 0;
  $('#leaderboard').replaceChildren(...top.map((r) => h('li.board-row', { dataset: { user: r.user } },
    h('span.rank', {}, r.rank <= 3 ? ['🥇', '🥈', '🥉'][r.rank - 1] : `#${r.rank}`),
    h('span.who', {}, r.name || state.names.get(r.user) || r.user),
    h('span.score', {}, t('host.points', { points: compact(r.points) })))));
}

// ---------- sales ----------

const yuan = formatYuan;

async function loadSales() {
  if (!state.streamId || document.hidden) return;
  let s;
  try {
    s = await api('GET', sp('/sales'), { token: state.token });
    $('#sales-status').textContent = '';
  } catch (err) {
    $('#sales-status').textContent = problemText(err);
    return;
  }
  $('#sales-orders').textContent = compact(s.orders || 0);
  $('#sales-buyers').textContent = compact(s.buyers || 0);
  $('#sales-gmv').textContent = yuan(s.gmv_fen);
  $('#sales-conversion').textContent = `${(100 * (Number(s.conversion) || 0)).toFixed(1)}%`;
  const ps = s.products || [];
  $('#sales-empty').hidden = ps.length > 0;
  $('#sales-products').replaceChildren(...ps.map((p) => h('li.board-row', { dataset: { id: p.product_id } },
    h('span.who', {}, p.title || p.product_id),
    h('span.score', {}, h('span.clicks', {}, t('host.sales.clicks', { count: p.clicks || 0 })), ' → ', h('span.orders', {}, t('host.sales.ordersN', { count: p.orders || 0 })),
      ` · ${t('host.sales.units', { count: p.units || 0 })} · ${yuan(p.gmv_fen)}`))));
}

// ---------- product shelf ----------

async function loadProducts(pinned) {
  const list = await call('GET', sp('/products'), undefined, '#product-status');
  if (!list) return;
  if (pinned !== undefined) state.pinnedProduct = pinned;
  $('#product-count').textContent = String(list.length);
  $('#product-list').replaceChildren(...list.map((p) => {
    const isPinned = state.pinnedProduct === p.id;
    return h('li', { dataset: { id: p.id, pinned: String(isPinned) } },
      h('span.who', {}, `${p.title} · ${yuan(p.price_fen)}`),
      h('button.btn.product-pin', {
        type: 'button',
        onclick: async () => {
          const verb = isPinned ? 'unpin' : 'pin';
          try { // not call(): unpin answers 204, which call() cannot tell from a failure
            await api('POST', sp(`/products/${encodeURIComponent(p.id)}/${verb}`), { token: state.token });
          } catch (err) {
            const text = problemText(err);
            $('#product-status').textContent = text;
            toast(text, 'error', 5000);
            return;
          }
          ok('#product-status', t(isPinned ? 'host.products.unpinned' : 'host.products.pinned', { title: p.title }));
          loadProducts(isPinned ? '' : p.id);
        },
      }, isPinned ? t('host.products.unpin') : t('host.products.pin')));
  }));
}

$('#product-add').addEventListener('click', async () => {
  const id = $('#product-id').value.trim();
  const body = {
    id,
    title: $('#product-title').value.trim(),
    price_fen: Math.round(Number($('#product-price').value) * 100),
    url: $('#product-url').value.trim() || `${location.origin}/p/${encodeURIComponent(id)}`,
  };
  const p = await call('POST', sp('/products'), body, '#product-status');
  if (!p) return;
  ok('#product-status', t('host.products.added', { title: p.title }));
  for (const f of ['#product-id', '#product-title', '#product-price', '#product-url']) $(f).value = '';
  loadProducts();
});

// ---------- product Q&A ----------

function renderQuestions(list) {
  const sorted = [...list].sort((a, b) => (b.pinned ? 1 : 0) - (a.pinned ? 1 : 0) || (b.votes || 0) - (a.votes || 0));
  $('#qa-count').textContent = String(sorted.length);
  $('#qa-host-empty').hidden = sorted.length > 0;
  $('#qa-host-list').replaceChildren(...sorted.map((q) => {
    const act = (verb, label) => h(`button.qa-${verb}`, {
      type: 'button',
      onclick: async () => {
        const res = await call('POST', sp(`/questions/${encodeURIComponent(q.id)}/${verb}`), undefined, '#qa-status');
        if (res) ok('#qa-status', t('host.qa.done', { action: label, text: q.text.slice(0, 40) }));
      },
    }, label);
    const li = h('li', { dataset: { id: q.id } },
      h('span.qa-votes', {}, `▲ ${q.votes || 0}`),
      h('div.qa-main', {},
        h('div', {}, q.text),
        h('div.hint', {}, `${q.name || q.user || t('host.guest')} · ${hhmm(q.at)}`, q.pinned ? t('host.qa.pinnedTag') : '', q.answered ? t('host.qa.answeredTag') : '')),
      h('div.qa-acts', {}, act('pin', q.pinned ? t('host.qa.unpin') : t('host.qa.pin')), q.answered ? '' : act('answer', t('host.qa.answered')), act('hide', t('host.qa.hide'))),
    );
    li.classList.toggle('pinned', !!q.pinned);
    li.classList.toggle('answered', !!q.answered);
    return li;
  }));
}

// ---------- countdowns ----------

setInterval(() => {
  const now = Date.now();
  document.querySelectorAll('[data-deadline]').forEach((el) => {
    const deadline = Number(el.dataset.deadline);
    if (!deadline) return;
    el.textContent = deadline > now ? clock(deadline - now) : t('host.countdown.ended');
    el.classList.toggle('urgent', deadline > now && deadline - now < 5000);
  });
}, 250);

// ---------- start ----------

addPollOption();
addPollOption();
addQuizQuestion();
const initial = params.get('token') || localStorage.getItem(TOKEN_KEY) || '';
$('#host-token').value = initial;
showClaims();
if (initial && tokenFresh(initial) && signIn()) {
  const id = $('#stream-id').value.trim();
  if (id) openStream(id, '#open-status');
}
