// The Kudos viewer page: one live room (?stream=ID, default "demo"; optional ?token=JWT and ?name=).
//
// Stable hooks for browser tests (ids unless noted):
//   #stream-title #live-badge #viewer-count #conn-status[data-state=connecting|open|reconnecting|stopped]
//   #chat-list (li.chat-item[data-id][data-user], .mine, .host) #chat-input #chat-send #chat-count #chat-error
//   #slow-mode #like-button #like-total #like-rate #hearts
//   #poll-card[data-poll-id][data-status] .poll-option[data-index] (.voted, .winner) .poll-pct
//   #quiz-card[data-question-id] .quiz-choice[data-index] (.picked, .correct, .wrong) #quiz-countdown
//     #quiz-leaderboard
//   #coupon-card[data-coupon-id] #coupon-value (满 ¥100 减 ¥20; absent for a code only) #coupon-remaining
//     #coupon-claim #coupon-code
//   #draw-card[data-draw-id][data-status] #draw-enter #draw-commitment #draw-winners #draw-seed #draw-you-won
//   #points-pill #points-balance #points-tier #points-history
//   #store-list (li.store-item[data-reward-id], .store-redeem) #store-empty #store-result (the code or claim id)
//   #my-coupons (li.my-coupon[data-code][data-status=claimed|redeemed|expired][data-source=drop|store],
//     [data-testid=my-coupon-state]) #my-coupons-empty #my-coupons-refresh
//   #qa-input #qa-send #qa-list (li.qa-item[data-id], .qa-upvote)
//   #rating-stars .rating-star[data-score]  #nps-options .nps-option[data-score]
//   #ended-overlay (shown when the live has ended)  #toasts .toast
//   #replay-open #replay-bar[data-state=playing|paused] #replay-play #replay-scrub #replay-time
import {
  $, api, clock, compact, decodeJwt, errorText, h, hexBytes, hhmm, LiveSocket, loadJSON, pct, saveJSON,
  sha256Hex, toast, tokenFresh,
} from './kudos.js';
// Every text is the catalogue's (i18n.js: zh-CN or en by ?lang=, else the browser's language); index.html's
// static text is localized by its data-i18n / data-i18n-attr attributes.
import { isEnterToSend, lang, localize, t, tn } from './i18n.js';

localize();

const params = new URLSearchParams(location.search);
// The embeddable room (/embed/:stream): this page framed by a shop. embed.js takes the viewer's token from the
// shop, tells it of buy clicks, coupon claims and redemptions, and applies its theme; null on the viewer page.
const embed = document.querySelector('meta[name="kudos-embed"]') ? (await import('./embed.js')).start() : null;
const streamId = (embed && embed.stream) || params.get('stream') || 'demo';
const queryToken = params.get('token');
const queryName = (params.get('name') || '').trim().slice(0, 40);

const TOKEN_KEY = 'kudos.token';
const MAX_CHAT = 200;
const LIKE_WINDOW_MS = 250;
const LIKE_MAX_PER_FRAME = 50;
const MAX_HEARTS = 40;

const state = {
  token: '',
  me: { user: '', name: '', role: 'viewer' },
  stream: null,
  ended: false,
  slowModeS: 0,
  cooldownUntil: 0,
  likes: { total: 0, perSecond: 0, lastLocalAt: 0 },
  poll: null,
  quiz: null,
  coupons: new Map(),
  draw: null,
  points: { balance: 0, tier: 'bronze' },
  history: [],
};

const socket = new LiveSocket({
  stream: streamId,
  getToken: () => state.token,
  onFrame: handleFrame,
  onState: handleSocketState,
});

// ---------- identity ----------

const ADJECTIVES = ['Sunny', 'Lucky', 'Cosy', 'Happy', 'Swift', 'Bright', 'Gentle', 'Merry', 'Brave', 'Quiet', 'Witty', 'Zesty'];
const ANIMALS = ['Panda', 'Otter', 'Koala', 'Fox', 'Robin', 'Lynx', 'Dolphin', 'Tiger', 'Owl', 'Bunny', 'Kitten', 'Heron'];

const ADJECTIVES_ZH = ['阳光', '幸运', '快乐', '勇敢', '安静', '机灵', '温柔', '欢乐', '闪亮', '可爱'];
const ANIMALS_ZH = ['熊猫', '水獭', '考拉', '狐狸', '知更鸟', '海豚', '老虎', '猫头鹰', '兔子', '小猫'];

function friendlyName() {
  const pick = (list) => list[Math.floor(Math.random() * list.length)];
  const n = Math.floor(10 + Math.random() * 90);
  if (lang === 'zh-CN') return `${pick(ADJECTIVES_ZH)}的${pick(ANIMALS_ZH)}${n}`;
  return `${pick(ADJECTIVES)} ${pick(ANIMALS)} ${n}`;
}

async function obtainToken(forceNew = false) {
  const shopToken = embed && (await embed.token(forceNew));
  if (shopToken) return shopToken;
  if (queryToken && !forceNew) return queryToken;
  if (!forceNew) {
    const stored = localStorage.getItem(TOKEN_KEY);
    const claims = decodeJwt(stored);
    if (stored && tokenFresh(stored) && (!queryName || (claims && claims.name === queryName))) return stored;
  }
  const res = await api('POST', '/tokens/guest', { body: { name: queryName || friendlyName() } });
  try {
    localStorage.setItem(TOKEN_KEY, res.token);
  } catch {
    /* private mode: keep it in memory only */
  }
  return res.token;
}

async function signIn(forceNew = false) {
  for (let attempt = 0; ; attempt++) {
    try {
      state.token = await obtainToken(forceNew);
      const claims = decodeJwt(state.token) || {};
      state.me.user = claims.sub || '';
      state.me.name = claims.name || '';
      state.me.role = claims.role || 'viewer';
      $('#you-name').textContent = state.me.name ? t('viewer.watchingAs', { name: state.me.name }) : '';
      return;
    } catch (err) {
      const wait = Math.min(15_000, 1000 * 2 ** attempt);
      setConn('reconnecting', t('viewer.conn.signInFailed', { error: err.message, seconds: Math.round(wait / 1000) }));
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

// ---------- connection state ----------

function setConn(stateName, text) {
  const el = $('#conn-status');
  el.dataset.state = stateName;
  el.textContent = text || '';
}

let recovering = false;

function handleSocketState(s, info) {
  if (state.ended) return;
  if (s === 'open') setConn('open', t('viewer.conn.open'));
  else if (s === 'connecting') setConn(info.attempt ? 'reconnecting' : 'connecting', info.attempt ? t('viewer.conn.reconnecting') : t('viewer.conn.connecting'));
  else if (s === 'reconnecting') {
    setConn('reconnecting', t('viewer.conn.retryIn', { seconds: Math.max(1, Math.round(info.delayMs / 1000)) }));
    // 4001 token_expired: the server closed the socket at the token's expiry; dial again with a fresh one.
    if (info.code === 4001 && !queryToken && !recovering) signIn(false).catch(() => {});
    else if (info.failuresBeforeOpen >= 2 && !recovering) recover();
  }
}

// Two failed dials in a row: the stream may not exist, or our token may be stale (the server restarted
// with a new secret). Ask the HTTP API which, since browsers hide the handshake's status code.
async function recover() {
  recovering = true;
  try {
    await api('GET', `/streams/${encodeURIComponent(streamId)}`);
    if (!queryToken) await signIn(true);
  } catch (err) {
    if (err.status === 404) {
      socket.stop('not found');
      setConn('stopped', t('viewer.conn.notFound'));
      $('#stream-title').textContent = t('viewer.notFoundTitle');
    }
  } finally {
    recovering = false;
  }
}

// ---------- frames ----------

function handleFrame(type, d) {
  switch (type) {
    case 'welcome': return onWelcome(d);
    case 'comment': return addComment(d);
    case 'comment.removed': return removeComment(d.id);
    case 'chat.skipped': return onChatSkipped(d.count);
    case 'presence': return setViewers(d.viewers);
    case 'likes': return onLikes(d);
    case 'poll.opened': return showPoll(d.poll);
    case 'poll.tally': return onPollTally(d, false);
    case 'poll.closed': return onPollTally(d, true);
    case 'quiz.question': return showQuizQuestion(d);
    case 'quiz.reveal': return onQuizReveal(d);
    case 'quiz.leaderboard': return onQuizLeaderboard(d);
    case 'coupon.drop': return onCouponDrop(d);
    case 'coupon.stock': return onCouponStock(d);
    case 'draw.opened': return showDraw(d);
    case 'draw.result': return onDrawResult(d);
    case 'points': return onPoints(d);
    case 'notice': return onNotice(d);
    case 'notification': return toast([d.title, d.body].filter(Boolean).join(' — ') || d.message || t('viewer.notification'), 'info', 6000);
    case 'questions': return renderQuestions(d.questions || []);
    case 'product.pinned': return onPinned(d.product);
    case 'product.unpinned': return hideProduct(d.product_id);
    case 'stream.ended': return endLive();
    case 'feedback.prompt': return onFeedbackPrompt(d);
    case 'error': return showChatError(errorText(d));
    default: return undefined;
  }
}

function onWelcome(d) {
  if (d.user) state.me.user = d.user;
  if (d.name) state.me.name = d.name;
  if (d.role) state.me.role = d.role;
  if (d.stream) renderStream(d.stream);
  setViewers(d.viewers);
  resetChat(d.recent || []);
  if (d.likes) onLikes(d.likes, true);
  if (d.poll) showPoll(d.poll);
  if (d.quiz) showQuizQuestion(d.quiz);
  for (const c of d.coupons || []) onCouponDrop(c, true);
  if (d.draw) showDraw(d.draw);
  showProduct(d.product || null);
  loadShelf();
  loadStore();
  if (d.questions) renderQuestions(d.questions.questions || []);
  if (d.points) {
    setPoints(d.points.balance, d.points.tier);
    showDowngrade(d.points.downgrade);
    showPrivileges(d.points.privileges || []);
  }
  loadRules();
  setSlowMode(d.slow_mode_s || 0);
  if (d.stream && d.stream.status === 'ended') endLive();
}

function renderStream(s) {
  state.stream = s;
  const title = s.title || t('viewer.liveTitle');
  $('#stream-title').textContent = title;
  document.title = t('viewer.docTitleStream', { title });
  $('#host-avatar').textContent = (title.trim()[0] || 'K').toUpperCase();
}

function setViewers(n) {
  if (typeof n !== 'number') return;
  const el = $('#viewer-count');
  el.textContent = compact(n);
  el.dataset.value = String(n);
}

// ---------- chat ----------

const chatList = $('#chat-list');
const chatIds = new Set();

function nearBottom() {
  return chatList.scrollHeight - chatList.scrollTop - chatList.clientHeight < 40;
}

function scrollChatToEnd() {
  chatList.scrollTop = chatList.scrollHeight;
  $('#chat-new').hidden = true;
}

function commentItem(c) {
  const mine = c.user && c.user === state.me.user;
  const host = c.role === 'host' || c.role === 'admin' || (state.stream && c.user === state.stream.host);
  const li = h('li.chat-item', { dataset: { id: c.id || '', user: c.user || '' }, title: hhmm(c.at) });
  if (mine) li.classList.add('mine');
  if (host) li.classList.add('host');
  li.append(
    host ? h('span.role-badge', {}, t('viewer.badge.host')) : '',
    h('span.chat-name', {}, mine ? t('viewer.chat.mine', { name: c.name || t('viewer.you') }) : c.name || t('viewer.guest')),
    h('span.chat-text', {}, c.text || ''),
  );
  return li;
}

function addComment(c) {
  if (!c || (c.id && chatIds.has(c.id))) return;
  const stick = nearBottom();
  if (c.id) chatIds.add(c.id);
  chatList.append(commentItem(c));
  while (chatList.children.length > MAX_CHAT) {
    chatIds.delete(chatList.firstElementChild.dataset.id);
    chatList.firstElementChild.remove();
  }
  if (stick || (c.user && c.user === state.me.user)) scrollChatToEnd();
  else $('#chat-new').hidden = false;
}

// onChatSkipped shows that the server skipped n comments to keep up (a busy show): one line in the chat,
// which counts on while nothing else has been added after it.
function onChatSkipped(n) {
  n = Number(n) || 0;
  if (n <= 0) return;
  const last = chatList.lastElementChild;
  if (last && last.classList.contains('chat-skipped')) {
    n += Number(last.dataset.count) || 0;
    last.remove();
  }
  const stick = nearBottom();
  chatList.append(h('li.chat-item.chat-skipped', { dataset: { count: String(n) } }, tn('viewer.chat.skipped', n)));
  while (chatList.children.length > MAX_CHAT) {
    chatIds.delete(chatList.firstElementChild.dataset.id);
    chatList.firstElementChild.remove();
  }
  if (stick) scrollChatToEnd();
}

function resetChat(recent) {
  chatList.replaceChildren();
  chatIds.clear();
  for (const c of recent) addComment(c);
  scrollChatToEnd();
}

function removeComment(id) {
  const li = chatList.querySelector(`li[data-id="${CSS.escape(String(id))}"]`);
  if (li) {
    li.classList.add('removed');
    setTimeout(() => li.remove(), 250);
  }
  chatIds.delete(id);
}

chatList.addEventListener('scroll', () => {
  if (nearBottom()) $('#chat-new').hidden = true;
});
$('#chat-new').addEventListener('click', scrollChatToEnd);

const chatInput = $('#chat-input');
let chatErrorTimer = 0;

function showChatError(text, sticky = false) {
  const el = $('#chat-error');
  el.textContent = text;
  el.classList.add('visible');
  clearTimeout(chatErrorTimer);
  if (!sticky) chatErrorTimer = setTimeout(() => el.classList.remove('visible'), 4000);
}

function runes(text) {
  return [...text].length;
}

function updateCounter() {
  const n = runes(chatInput.value);
  const el = $('#chat-count');
  el.textContent = `${n}/200`;
  el.classList.toggle('near', n >= 180);
  el.classList.toggle('over', n > 200);
}

chatInput.addEventListener('input', updateCounter);

// Enter sends, except the Enter that ends an input method's composition (choosing the characters of a pinyin
// word): that one belongs to the IME. The form's implicit submission is replaced by this handler.
function sendOnEnter(input, form) {
  input.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' || !isEnterToSend(ev)) return;
    ev.preventDefault();
    form.requestSubmit();
  });
}
sendOnEnter(chatInput, $('#chat-form'));
sendOnEnter($('#qa-input'), $('#qa-form'));

$('#chat-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (state.ended) return;
  const text = chatInput.value.trim();
  if (!text) return;
  if (runes(text) > 200) {
    showChatError(t('viewer.chat.tooLong'));
    return;
  }
  if (Date.now() < state.cooldownUntil) {
    showChatError(t('viewer.chat.slowWait', { seconds: Math.ceil((state.cooldownUntil - Date.now()) / 1000) }));
    return;
  }
  const send = $('#chat-send');
  send.disabled = true;
  try {
    const ack = await socket.request('comment.send', { text });
    chatInput.value = '';
    updateCounter();
    if (ack && ack.comment_id) {
      addComment({ id: ack.comment_id, user: state.me.user, name: state.me.name, text, at: new Date().toISOString(), role: state.me.role });
    }
    if (state.slowModeS > 0) state.cooldownUntil = Date.now() + state.slowModeS * 1000;
  } catch (err) {
    showChatError(errorText(err));
  } finally {
    send.disabled = false;
  }
});

function setSlowMode(seconds, message) {
  state.slowModeS = Number(seconds) || 0;
  const el = $('#slow-mode');
  el.hidden = state.slowModeS <= 0 && !message;
  el.textContent = message || (state.slowModeS > 0 ? t('viewer.slow.on', { seconds: state.slowModeS }) : '');
}

function onNotice(d) {
  switch (d.kind) {
    case 'slow_mode': {
      const seconds = d.seconds ?? d.slow_mode_s ?? 0;
      setSlowMode(seconds, seconds > 0 ? null : '');
      toast(seconds > 0 ? t('viewer.slow.toastOn', { seconds }) : t('viewer.slow.toastOff'), 'info');
      break;
    }
    case 'muted':
      showChatError(d.until ? t('viewer.mutedUntil', { time: hhmm(d.until) }) : t('viewer.muted'), true);
      break;
    case 'banned':
      showChatError(t('viewer.banned'), true);
      chatInput.disabled = true;
      $('#chat-send').disabled = true;
      break;
    case 'stream_ended':
      endLive();
      break;
    default:
      if (d.message) toast(d.message, 'info');
  }
}

function endLive() {
  if (state.ended) return;
  state.ended = true;
  socket.stop('stream ended');
  setConn('stopped', t('viewer.conn.ended'));
  const badge = $('#live-badge');
  badge.textContent = t('viewer.endedBadge');
  badge.classList.add('ended');
  $('#ended-overlay').hidden = false;
  $('#replay-open').hidden = false;
  chatInput.disabled = true;
  $('#chat-send').disabled = true;
  $('#like-button').disabled = true;
}

// ---------- likes and hearts ----------

const likeBtn = $('#like-button');
let likePending = 0;
let likeTimer = 0;

function flushLikes() {
  likeTimer = 0;
  if (likePending <= 0) return;
  const n = Math.min(LIKE_MAX_PER_FRAME, likePending);
  likePending -= n;
  socket.send('like.send', { count: n });
  if (likePending > 0) likeTimer = setTimeout(flushLikes, LIKE_WINDOW_MS);
}

likeBtn.addEventListener('click', () => {
  if (state.ended) return;
  likePending++;
  state.likes.total++;
  state.likes.lastLocalAt = Date.now();
  renderLikes();
  spawnHeart(true);
  likeBtn.classList.remove('pop');
  void likeBtn.offsetWidth; // restart the pop animation
  likeBtn.classList.add('pop');
  if (!likeTimer) likeTimer = setTimeout(flushLikes, LIKE_WINDOW_MS);
});

function onLikes(d, fromWelcome = false) {
  const total = Number(d.total) || 0;
  // Our own recent taps may not be counted yet; never let the number jump backwards under the finger.
  const recent = Date.now() - state.likes.lastLocalAt < 1500;
  state.likes.total = recent ? Math.max(total, state.likes.total) : total;
  state.likes.perSecond = Number(d.per_second) || 0;
  renderLikes();
  // Ambient hearts follow the room's like rate: accumulate rate × elapsed time and float whole hearts.
  const now = Date.now();
  const elapsed = Math.min(1, (now - (state.likes.lastFrameAt || now)) / 1000);
  state.likes.lastFrameAt = now;
  if (fromWelcome || recent) return;
  state.likes.heartBudget = (state.likes.heartBudget || 0) + state.likes.perSecond * elapsed;
  const n = Math.min(6, Math.floor(state.likes.heartBudget));
  state.likes.heartBudget -= n;
  for (let i = 0; i < n; i++) setTimeout(() => spawnHeart(false), i * 120);
}

/** Formats a per-second rate: one decimal below 10, compact above. */
function rate(perSecond) {
  return perSecond < 10 ? perSecond.toFixed(1).replace(/\.0$/, '') : compact(Math.round(perSecond));
}

function renderLikes() {
  const total = $('#like-total');
  total.textContent = compact(state.likes.total);
  total.dataset.value = String(state.likes.total);
  $('#like-rate').textContent = state.likes.perSecond >= 0.05 ? `${rate(state.likes.perSecond)}/s` : '';
}

const HEART_COLORS = ['#ff2d55', '#ff6b81', '#ff9f43', '#feca57', '#ff6bd6', '#a55eea', '#48dbfb'];

// Floating hearts are motion: none for a viewer who asked for reduced motion (app.css hides them too).
const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');
reducedMotion.addEventListener('change', () => {
  if (reducedMotion.matches) $('#hearts').replaceChildren(); // hidden hearts never end their animation
});

function spawnHeart(mine) {
  const box = $('#hearts');
  if (reducedMotion.matches || box.childElementCount >= MAX_HEARTS) return;
  const heart = h('span.heart', {
    style: {
      color: mine ? '#ff2d55' : HEART_COLORS[Math.floor(Math.random() * HEART_COLORS.length)],
      left: `${30 + Math.random() * 40}%`,
    },
  });
  heart.style.setProperty('--drift', `${Math.round(Math.random() * 80 - 40)}px`);
  heart.style.setProperty('--scale', String(mine ? 1.1 : 0.7 + Math.random() * 0.4));
  heart.style.setProperty('--dur', `${1.8 + Math.random() * 1.2}s`);
  heart.innerHTML = '<svg viewBox="0 0 24 24"><use href="#i-heart"/></svg>';
  heart.addEventListener('animationend', () => heart.remove());
  box.append(heart);
}

// ---------- poll ----------

const pollCard = $('#poll-card');
const VOTES_KEY = 'kudos.votes';

function showPoll(p) {
  if (!p || !p.id) return;
  state.poll = { ...p, counts: p.counts || p.options.map(() => 0), total: p.total || 0 };
  const votes = loadJSON(VOTES_KEY, {});
  state.poll.myVote = votes[p.id] ?? null;
  pollCard.dataset.pollId = p.id;
  pollCard.replaceChildren(
    cardHead(t('viewer.poll.kicker'), '📊', h('span.countdown#poll-countdown')),
    h('h3.card-question', {}, p.question),
    h('div.poll-options', {}, p.options.map((label, i) => h('button.poll-option', {
      type: 'button',
      dataset: { index: String(i) },
      onclick: () => votePoll(i),
    }, h('span.poll-bar'), h('span.poll-label', {}, label), h('span.poll-pct', {}, '0%')))),
    h('div.card-foot#poll-foot'),
  );
  bringToFront(pollCard);
  clearTimeout(pollCard.hideTimer);
  updatePoll();
}

// The newest card goes on top of the stack, where a phone screen has room for it.
function bringToFront(card) {
  const stack = $('#stage-cards');
  if (stack.firstElementChild !== card) stack.prepend(card);
  card.hidden = false;
  stack.scrollTop = 0;
}

function cardHead(kicker, icon, ...extra) {
  const close = h('button.card-close', { type: 'button', 'aria-label': t('viewer.hide'), html: '<svg><use href="#i-close"/></svg>' });
  close.addEventListener('click', (ev) => {
    ev.currentTarget.closest('.live-card').hidden = true;
  });
  return h('header.card-head', {}, h('span.card-kicker', {}, h('span.kicker-icon', {}, icon), kicker), ...extra, close);
}

function updatePoll() {
  const p = state.poll;
  if (!p) return;
  const closed = p.status === 'closed';
  pollCard.dataset.status = closed ? 'closed' : 'open';
  pollCard.classList.toggle('closed', closed);
  const buttons = pollCard.querySelectorAll('.poll-option');
  buttons.forEach((btn, i) => {
    const n = p.counts[i] || 0;
    const percent = pct(n, p.total);
    btn.querySelector('.poll-bar').style.width = `${percent}%`;
    btn.querySelector('.poll-pct').textContent = `${percent}%`;
    btn.classList.toggle('voted', p.myVote === i);
    btn.classList.toggle('winner', closed && p.winner === i);
    btn.disabled = closed || p.myVote !== null;
    btn.title = tn('viewer.votes', n);
  });
  const cd = $('#poll-countdown');
  if (!closed && p.closes_ms) cd.dataset.deadline = String(p.closes_ms);
  else {
    delete cd.dataset.deadline;
    cd.textContent = closed ? t('viewer.poll.closed') : '';
  }
  let foot = tn('viewer.votes', p.total, { count: compact(p.total) });
  if (closed) foot += p.winner >= 0 ? t('viewer.poll.winner', { option: p.options[p.winner] }) : t('viewer.poll.noVotes');
  else if (p.myVote !== null) foot += t('viewer.poll.thanks');
  else foot += t('viewer.poll.tap');
  $('#poll-foot').textContent = foot;
}

async function votePoll(i) {
  const p = state.poll;
  if (!p || p.status === 'closed' || p.myVote !== null) return;
  p.myVote = i; // optimistic; undone on a real error
  updatePoll();
  try {
    await socket.request('poll.vote', { poll_id: p.id, option: i });
    rememberVote(p.id, i);
  } catch (err) {
    if (err.code === 'duplicate') {
      rememberVote(p.id, i);
      toast(t('viewer.poll.already'), 'info');
    } else {
      if (state.poll === p) p.myVote = null;
      if (err.code === 'closed') p.status = 'closed';
      toast(errorText(err), 'error');
    }
  }
  updatePoll();
}

function rememberVote(pollId, i) {
  const votes = loadJSON(VOTES_KEY, {});
  votes[pollId] = i;
  saveJSON(VOTES_KEY, votes);
}

function onPollTally(d, closed) {
  const p = state.poll;
  if (!p || p.id !== d.poll_id) return;
  if (Array.isArray(d.counts)) p.counts = d.counts;
  if (typeof d.total === 'number') p.total = d.total;
  else p.total = p.counts.reduce((a, b) => a + b, 0);
  if (closed) {
    p.status = 'closed';
    p.winner = typeof d.winner === 'number' ? d.winner : -1;
    clearTimeout(pollCard.hideTimer);
    pollCard.hideTimer = setTimeout(() => {
      if (state.poll === p) pollCard.hidden = true;
    }, 30_000);
  }
  updatePoll();
}

// ---------- quiz ----------

const quizCard = $('#quiz-card');
const LETTERS = 'ABCDEFGHIJ';

function showQuizQuestion(q) {
  if (!q || !q.question_id) return;
  state.quiz = { ...q, myChoice: null, revealed: false };
  quizCard.dataset.questionId = q.question_id;
  quizCard.classList.remove('revealed', 'final');
  const num = typeof q.index === 'number' ? q.index + 1 : 1;
  quizCard.replaceChildren(
    cardHead(t('viewer.quiz.kicker', { n: num, count: q.count || num }), '🧠', h('span.countdown#quiz-countdown', { dataset: { deadline: String(q.deadline_ms || 0) } })),
    h('div.quiz-timer', {}, h('span.quiz-timer-fill#quiz-timer-fill')),
    h('h3.card-question', {}, q.text),
    h('div.quiz-choices', {}, (q.choices || []).map((c, i) => h('button.quiz-choice', {
      type: 'button',
      dataset: { index: String(i) },
      onclick: () => answerQuiz(i),
    }, h('span.quiz-bar'), h('span.choice-letter', {}, LETTERS[i]), h('span.choice-label', {}, c), h('span.choice-count')))),
    h('div.card-foot#quiz-foot', {}, t('viewer.quiz.hint')),
    h('ol.quiz-board#quiz-leaderboard', { hidden: true }),
  );
  bringToFront(quizCard);
}

async function answerQuiz(i) {
  if (replay.items) return answerReplayQuiz(i);
  const q = state.quiz;
  if (!q || q.myChoice !== null || q.revealed || Date.now() > q.deadline_ms) return;
  q.myChoice = i;
  markQuizChoices();
  $('#quiz-foot').textContent = t('viewer.quiz.locked');
  try {
    await socket.request('quiz.answer', { quiz_id: q.quiz_id, question_id: q.question_id, choice: i });
  } catch (err) {
    if (err.code !== 'duplicate' && state.quiz === q) {
      q.myChoice = null;
      markQuizChoices();
    }
    $('#quiz-foot').textContent = err.code === 'closed' ? t('viewer.quiz.timeUp') : errorText(err);
  }
}

function markQuizChoices() {
  const q = state.quiz;
  const late = q && Date.now() > q.deadline_ms;
  quizCard.querySelectorAll('.quiz-choice').forEach((btn, i) => {
    btn.classList.toggle('picked', q.myChoice === i);
    btn.disabled = q.myChoice !== null || q.revealed || late;
  });
}

function onQuizReveal(d) {
  const q = state.quiz;
  if (!q || q.question_id !== d.question_id) return;
  q.revealed = true;
  quizCard.classList.add('revealed');
  delete $('#quiz-countdown').dataset.deadline;
  $('#quiz-countdown').textContent = t('viewer.quiz.revealed');
  const counts = d.counts || [];
  const total = d.total || counts.reduce((a, b) => a + b, 0);
  quizCard.querySelectorAll('.quiz-choice').forEach((btn, i) => {
    btn.classList.toggle('correct', i === d.answer);
    btn.classList.toggle('wrong', i === q.myChoice && i !== d.answer);
    btn.querySelector('.choice-count').textContent = String(counts[i] || 0);
    btn.querySelector('.quiz-bar').style.width = `${pct(counts[i] || 0, total)}%`;
  });
  markQuizChoices();
  const right = typeof d.correct === 'number' ? d.correct : counts[d.answer] || 0;
  let foot = t('viewer.quiz.rightCount', { right, total });
  if (q.myChoice === d.answer) foot = t('viewer.quiz.correct', { result: foot });
  else if (q.myChoice !== null) foot = t('viewer.quiz.wrong', { result: foot });
  $('#quiz-foot').textContent = foot;
}

function onQuizLeaderboard(d) {
  if (!state.quiz || state.quiz.quiz_id !== d.quiz_id) {
    if (!d.final) return;
    state.quiz = { quiz_id: d.quiz_id, question_id: '', choices: [], myChoice: null, revealed: true };
    quizCard.replaceChildren(cardHead(t('viewer.quiz.kickerPlain'), '🧠'), h('div.card-foot#quiz-foot'), h('ol.quiz-board#quiz-leaderboard'));
    quizCard.hidden = false;
  }
  const board = $('#quiz-leaderboard');
  board.hidden = false;
  board.replaceChildren(
    h('li.board-title', {}, d.final ? t('viewer.quiz.final') : t('viewer.quiz.board')),
    ...(d.top || []).slice(0, 10).map((row) => h(`li.board-row${row.user === state.me.user ? '.me' : ''}`, {},
      h('span.rank', {}, `#${row.rank}`), h('span.who', {}, row.name || t('viewer.guest')), h('span.score', {}, compact(row.score)))),
  );
  if (d.final) quizCard.classList.add('final');
}

// ---------- coupons ----------

const couponCard = $('#coupon-card');
const CLAIMS_KEY = 'kudos.coupons';

function onCouponDrop(c, fromWelcome = false) {
  if (!c || !c.id) return;
  state.coupons.set(c.id, { ...c });
  if (c.your_code) { // the server remembers a claim whose answer this page never got
    const claims = loadJSON(CLAIMS_KEY, {});
    claims[c.id] = c.your_code;
    saveJSON(CLAIMS_KEY, claims);
  }
  if (c.expires_ms && c.expires_ms < Date.now()) return;
  renderCoupon(c.id);
}

function renderCoupon(id) {
  const c = state.coupons.get(id);
  const code = loadJSON(CLAIMS_KEY, {})[id];
  couponCard.dataset.couponId = id;
  const claim = h('button.btn.btn-claim#coupon-claim', { type: 'button', onclick: () => claimCoupon(id) }, t('viewer.coupon.claim'));
  couponCard.replaceChildren(
    cardHead(t('viewer.coupon.kicker'), '🎟️', h('span.countdown#coupon-countdown', { dataset: { deadline: String(c.expires_ms || 0) } })),
    h('div.coupon-body', {},
      h('div.coupon-title', {}, c.title),
      couponValue(c),
      h('div.coupon-stock', {}, h('span.stock-bar', {}, h('span.stock-fill#coupon-fill')), h('span#coupon-remaining')),
    ),
    code ? couponCodeBox(code) : claim,
    h('div.card-foot#coupon-note'),
  );
  bringToFront(couponCard);
  updateCouponStock(id);
}

// couponYuan formats an amount in fen as yuan: 2000 → "¥20", 1990 → "¥19.9", 5 → "¥0.05".
function couponYuan(fen) {
  return `¥${(fen / 100).toFixed(2).replace(/\.?0+$/, '')}`;
}

// couponValue is what a code takes off and from which order total: "满 ¥100 减 ¥20", or "减 ¥20" for any
// order; nothing for a code only (discount_fen 0: its value is the shop's).
function couponValue(c) {
  const text = couponValueText(c);
  if (!text) return null;
  return h('div.coupon-value#coupon-value', { 'data-testid': 'coupon-value' }, text);
}

// couponValueText is couponValue's text: "满 ¥100 减 ¥20", "减 ¥20", or "" for a code only.
function couponValueText(c) {
  if (!(c.discount_fen > 0)) return '';
  const off = couponYuan(c.discount_fen);
  return c.min_spend_fen > 0 ? t('viewer.coupon.minSpend', { min: couponYuan(c.min_spend_fen), off }) : t('viewer.coupon.off', { off });
}

function couponCodeBox(code) {
  return h('div.coupon-code', {},
    h('span', {}, t('viewer.coupon.yourCode')),
    h('code#coupon-code', { 'data-testid': 'coupon-code' }, code),
    h('button.btn.btn-ghost', {
      type: 'button',
      onclick: () => navigator.clipboard?.writeText(code).then(() => toast(t('viewer.coupon.copied'), 'success'), () => {}),
    }, t('viewer.copy')),
  );
}

function updateCouponStock(id) {
  const c = state.coupons.get(id);
  if (!c || couponCard.dataset.couponId !== id) return;
  const remaining = Math.max(0, c.remaining ?? c.stock ?? 0);
  const el = $('#coupon-remaining');
  el.textContent = remaining > 0 ? t('viewer.coupon.left', { remaining, stock: c.stock }) : t('viewer.soldOut');
  el.dataset.value = String(remaining);
  $('#coupon-fill').style.width = `${pct(remaining, c.stock || 1)}%`;
  const claim = $('#coupon-claim');
  if (claim && remaining <= 0) {
    claim.disabled = true;
    claim.textContent = t('viewer.soldOut');
  }
}

function onCouponStock(d) {
  const c = state.coupons.get(d.id);
  if (!c) return;
  c.remaining = d.remaining;
  updateCouponStock(d.id);
}

async function claimCoupon(id) {
  const btn = $('#coupon-claim');
  if (btn) {
    btn.disabled = true;
    btn.textContent = t('viewer.coupon.claiming');
  }
  try {
    const ack = await socket.request('coupon.claim', { coupon_id: id });
    const claims = loadJSON(CLAIMS_KEY, {});
    claims[id] = ack.code || 'CLAIMED';
    saveJSON(CLAIMS_KEY, claims);
    if (couponCard.dataset.couponId === id && btn) btn.replaceWith(couponCodeBox(claims[id]));
    toast(t('viewer.coupon.claimed'), 'success');
    const c = state.coupons.get(id) || {};
    embed?.post('kudos:coupon.claimed', {
      coupon_id: id, code: ack.code || '', title: c.title || '', discount_fen: c.discount_fen || 0, min_spend_fen: c.min_spend_fen || 0,
    });
    loadMyCoupons();
  } catch (err) {
    const note = $('#coupon-note');
    if (note) note.textContent = err.code === 'duplicate' ? t('viewer.coupon.already') : err.code === 'closed' ? t('viewer.coupon.gone') : errorText(err);
    if (btn) {
      btn.textContent = err.code === 'closed' ? t('viewer.coupon.unavailable') : t('viewer.coupon.claim');
      btn.disabled = err.code === 'closed' || err.code === 'duplicate';
    }
  }
}

// ---------- lucky draw ----------

const drawCard = $('#draw-card');
const DRAWS_KEY = 'kudos.draws';
const ELIGIBLE_TEXT = {
  all: t('viewer.draw.eligible.all'),
  voters: t('viewer.draw.eligible.voters'),
  commenters: t('viewer.draw.eligible.commenters'),
  keyword: t('viewer.draw.eligible.keyword'),
};

function shortHash(hash) {
  return hash && hash.length > 20 ? `${hash.slice(0, 10)}…${hash.slice(-8)}` : hash || '';
}

function showDraw(d) {
  if (!d || !d.id) return;
  state.draw = { ...d };
  drawCard.dataset.drawId = d.id;
  drawCard.dataset.status = d.status || 'open';
  drawCard.classList.remove('won');
  const entered = !!loadJSON(DRAWS_KEY, {})[d.id];
  const enter = h('button.btn.btn-primary.btn-wide#draw-enter', { type: 'button', onclick: enterDraw }, entered ? t('viewer.draw.in') : t('viewer.draw.enter'));
  enter.disabled = entered || d.status === 'drawn' || d.status === 'closed';
  drawCard.replaceChildren(
    cardHead(t('viewer.draw.kicker'), '🎁'),
    h('div.draw-prize', {}, d.prize),
    h('div.draw-meta', {}, `${tn('viewer.draw.winners', d.winners || 1)} · ${ELIGIBLE_TEXT[d.eligible] || ELIGIBLE_TEXT.all}`),
    enter,
    h('div.draw-commit', {}, t('viewer.draw.commitment'), ' ', h('code#draw-commitment', { title: d.commitment || '' }, shortHash(d.commitment))),
    h('div.draw-result#draw-result-box', { hidden: true }),
  );
  bringToFront(drawCard);
}

async function enterDraw() {
  const d = state.draw;
  const btn = $('#draw-enter');
  if (!d || !btn) return;
  btn.disabled = true;
  try {
    await socket.request('draw.enter', { draw_id: d.id });
    markEntered(d.id);
    btn.textContent = t('viewer.draw.in');
  } catch (err) {
    if (err.code === 'duplicate') {
      markEntered(d.id);
      btn.textContent = t('viewer.draw.in');
    } else {
      btn.disabled = err.code === 'closed';
      btn.textContent = err.code === 'closed' ? t('viewer.draw.closed') : t('viewer.draw.enter');
      toast(err.code === 'forbidden' ? t('viewer.draw.notEligible') : errorText(err), 'error');
    }
  }
}

function markEntered(id) {
  const draws = loadJSON(DRAWS_KEY, {});
  draws[id] = true;
  saveJSON(DRAWS_KEY, draws);
}

async function onDrawResult(r) {
  if (!state.draw || state.draw.id !== r.id) showDraw({ id: r.id, prize: r.prize, winners: (r.winners || []).length, commitment: r.commitment, status: 'drawn' });
  state.draw.status = 'drawn';
  drawCard.dataset.status = 'drawn';
  const btn = $('#draw-enter');
  if (btn) btn.remove();
  const winners = r.winners || [];
  const won = winners.some((w) => w.user === state.me.user);
  drawCard.classList.toggle('won', won);
  const box = $('#draw-result-box');
  const verify = h('div.draw-verify#draw-verify', {}, t('viewer.draw.verifyHint'));
  box.replaceChildren(
    won ? h('div.you-won#draw-you-won', {}, t('viewer.draw.youWon')) : '',
    h('div.sub-title', {}, winners.length ? tn('viewer.draw.winnersTitle', winners.length) : t('viewer.draw.noEntrants')),
    h('ul.draw-winners#draw-winners', {}, winners.map((w) => h(`li${w.user === state.me.user ? '.me' : ''}`, {}, w.name || w.user))),
    h('div.draw-seed', {}, t('viewer.draw.seed'), ' ', h('code#draw-seed', { title: r.seed || '' }, shortHash(r.seed))),
    h('div.muted.small', {}, tn('viewer.draw.entrants', (r.entrants || []).length)),
    verify,
  );
  box.hidden = false;
  drawCard.hidden = false;
  if (won) toast(t('viewer.draw.wonToast'), 'success', 8000);
  const commitment = r.commitment || state.draw.commitment;
  if (r.seed && commitment) {
    // The commitment is SHA-256 of the seed's bytes, not of its hex text (docs/draws.md).
    const seed = hexBytes(r.seed);
    const digest = seed && (await sha256Hex(seed));
    if (digest && digest.toLowerCase() === String(commitment).toLowerCase()) {
      verify.replaceChildren(h('strong.verified', {}, t('viewer.draw.verified')), t('viewer.draw.matches'));
    }
  }
}

// ---------- points ----------

const REASONS = {
  watch: t('viewer.reason.watching'), watching: t('viewer.reason.watching'), comment: t('viewer.reason.comment'),
  poll_vote: t('viewer.reason.pollVote'), 'poll.vote': t('viewer.reason.pollVote'), quiz: t('viewer.reason.quiz'),
  quiz_correct: t('viewer.reason.quizCorrect'), feedback: t('viewer.reason.feedback'), purchase: t('viewer.reason.purchase'),
};

// tierName is a tier as the viewer reads it: the default tiers by the catalogue, a rules file's own by its name.
const TIER_NAMES = { bronze: t('viewer.tier.bronze'), silver: t('viewer.tier.silver'), gold: t('viewer.tier.gold') };
function tierName(tier) {
  return TIER_NAMES[tier] || tier;
}

function reasonText(r) {
  if (!r) return t('viewer.reason.points');
  if (REASONS[r]) return REASONS[r];
  const s = String(r).replace(/[._]/g, ' ');
  return s[0].toUpperCase() + s.slice(1);
}

function setPoints(balance, tier) {
  const prevTier = state.points.tier;
  state.points.balance = Number(balance) || 0;
  state.points.tier = tier || 'bronze';
  const b = $('#points-balance');
  b.textContent = compact(state.points.balance);
  b.dataset.value = String(state.points.balance);
  $('#points-tier').textContent = tierName(state.points.tier);
  $('#rewards-balance').textContent = String(state.points.balance);
  $('#rewards-tier').textContent = tierName(state.points.tier);
  for (const el of [$('#points-pill'), $('#rewards-tier')]) {
    el.classList.remove(...[...el.classList].filter((c) => c.startsWith('tier-') && c !== 'tier-badge')); // tiers are the rules file's
    el.classList.add(`tier-${state.points.tier}`);
  }
  renderStore();
  const changed = prevTier !== state.points.tier;
  if (changed && state.tierPrivileges) showPrivileges(state.tierPrivileges[state.points.tier] || []);
  return changed;
}

// ---------- the tier's privileges (the rules file's, as GET /api/v1/rules serves them) ----------

// loadRules learns every tier's privileges, so that a tier reached during the show shows its own.
async function loadRules() {
  try {
    const rules = await api('GET', '/rules');
    state.tierPrivileges = Object.fromEntries((rules.tiers || []).map((t) => [t.tier, t.privileges || []]));
    showPrivileges(state.tierPrivileges[state.points.tier] || []); // a tier reached while this loaded
  } catch {
    // optional: the welcome carries the privileges of the tier the viewer joined with
  }
}

function showPrivileges(list) {
  const ul = $('#tier-privileges');
  if (!ul) return;
  ul.replaceChildren(...list.map((p) => h('li.tier-privilege', {}, p)));
  ul.hidden = list.length === 0;
}

// ---------- the points store: what the balance affords, redeemed with a confirmation ----------

async function loadStore() {
  try {
    const res = await api('GET', '/rewards');
    state.store = res.rewards || [];
  } catch {
    state.store = state.store || []; // the store is optional: the live goes on without it
  }
  renderStore();
}

function renderStore() {
  const list = $('#store-list');
  if (!list) return;
  const items = (state.store || []).filter((r) => r.cost <= state.points.balance && (r.remaining === undefined || r.remaining > 0));
  $('#store-empty').hidden = items.length > 0;
  list.replaceChildren(...items.map((r) => {
    const what = r.kind === 'coupon' && r.discount_fen
      ? (r.min_spend_fen ? t('viewer.coupon.minSpend', { min: yuan(r.min_spend_fen), off: yuan(r.discount_fen) }) : t('viewer.store.off', { amount: yuan(r.discount_fen) }))
      : (r.kind === 'gift' ? t('viewer.store.gift') : '');
    const li = h('li.store-item', {},
      h('span.store-title', {}, r.title, what ? h('small.store-kind', {}, ` · ${what}`) : ''),
      r.remaining !== undefined ? h('small.store-left', {}, t('viewer.store.left', { count: r.remaining })) : '',
      h('button.store-redeem', { type: 'button', onclick: () => redeemReward(r) }, t('viewer.store.cost', { cost: r.cost })));
    li.dataset.rewardId = r.id;
    return li;
  }));
}

// pendingRedemptions keeps, per reward, the request id of a redemption whose answer was an error or never
// came: trying again replays that request (the ledger is idempotent by it) instead of paying twice.
const pendingRedemptions = new Map();

async function redeemReward(r) {
  if (!state.me.user || !window.confirm(t('viewer.store.confirm', { cost: r.cost, title: r.title }))) return;
  const requestId = pendingRedemptions.get(r.id) || `web-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  pendingRedemptions.set(r.id, requestId);
  try {
    const red = await api('POST', `/users/${encodeURIComponent(state.me.user)}/redemptions`, {
      token: state.token, body: { reward_id: r.id, request_id: requestId },
    });
    setPoints(red.balance, state.points.tier);
    const out = $('#store-result');
    if (red.code) {
      const until = red.expires_at ? new Date(red.expires_at).toLocaleDateString(lang) : '';
      out.textContent = until ? t('viewer.store.codeUntil', { code: red.code, date: until }) : t('viewer.store.code', { code: red.code });
    } else if (red.claim_id) {
      out.textContent = t('viewer.store.claim', { id: red.claim_id });
    } else {
      out.textContent = t('viewer.store.redeemed', { title: r.title });
    }
    out.dataset.code = red.code || '';
    out.dataset.claimId = red.claim_id || '';
    out.hidden = false;
    pendingRedemptions.delete(r.id);
    toast(out.textContent, 'success', 8000);
    embed?.post('kudos:reward.redeemed', {
      reward_id: r.id, title: r.title, cost: r.cost, kind: r.kind || '', code: red.code || '', claim_id: red.claim_id || '', balance: red.balance,
    });
    if (red.code) loadMyCoupons();
  } catch (err) {
    // A refusal is final (a new attempt is a new request); anything else may have been applied: replay it.
    if (err && ['insufficient_points', 'out_of_stock', 'limit_reached', 'forbidden', 'invalid', 'not_found'].includes(err.code)) {
      pendingRedemptions.delete(r.id);
    }
    const why = { insufficient_points: t('viewer.store.insufficient'), out_of_stock: t('viewer.soldOut'), limit_reached: t('viewer.store.limit') };
    toast(why[err && err.code] || errorText(err), 'error');
  }
  loadStore();
}

// ---------- my coupons: every code this viewer holds, with its state at the shop's checkout ----------

const MY_COUPON_STATE = {
  claimed: t('viewer.myCoupons.ready'),
  redeemed: t('viewer.myCoupons.used'),
  expired: t('viewer.myCoupons.expired'),
};

// loadMyCoupons reads the viewer's codes (GET /users/:uid/coupons): the drops claimed on any show and the
// points-store coupons, newest first, each as the checkout sees it. A newer answer wins over a slower older one.
let myCouponsSeq = 0;
async function loadMyCoupons() {
  const list = $('#my-coupons');
  if (!list || !state.me.user || !state.token) return;
  const seq = ++myCouponsSeq;
  list.setAttribute('aria-busy', 'true');
  try {
    const res = await api('GET', `/users/${encodeURIComponent(state.me.user)}/coupons`, { token: state.token });
    if (seq === myCouponsSeq) renderMyCoupons(res.coupons || []);
  } catch (err) {
    if (seq === myCouponsSeq) {
      const note = $('#my-coupons-empty');
      note.textContent = t('viewer.myCoupons.loadFailed', { error: errorText(err) });
      note.hidden = false;
    }
  } finally {
    if (seq === myCouponsSeq) list.removeAttribute('aria-busy');
  }
}

function renderMyCoupons(coupons) {
  const list = $('#my-coupons');
  const empty = $('#my-coupons-empty');
  empty.textContent = t('viewer.myCoupons.empty');
  empty.hidden = coupons.length > 0;
  list.replaceChildren(...coupons.map((c) => {
    const status = MY_COUPON_STATE[c.status] ? c.status : 'claimed';
    const value = couponValueText(c);
    const until = c.expires_at ? new Date(c.expires_at) : null;
    const when = until ? until.toLocaleString(lang, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : '';
    const li = h('li.my-coupon', { 'data-testid': 'my-coupon' },
      h('div.my-coupon-main', {},
        value ? h('span.my-coupon-value', { 'data-testid': 'my-coupon-value' }, value) : '',
        h('code.my-coupon-code', { 'data-testid': 'my-coupon-code' }, c.code),
        h('span.my-coupon-state', { 'data-testid': 'my-coupon-state', dataset: { status } }, MY_COUPON_STATE[status])),
      h('div.my-coupon-meta', {},
        h('span', {}, c.title || (c.source === 'store' ? t('viewer.store.title') : t('viewer.myCoupons.coupon'))),
        h('span', {}, c.source === 'store' ? t('viewer.myCoupons.fromStore') : t('viewer.myCoupons.fromDrop')),
        when ? h('span', {}, status === 'expired' ? t('viewer.myCoupons.expiredAt', { when }) : t('viewer.myCoupons.useBy', { when })) : ''),
    );
    li.dataset.code = c.code;
    li.dataset.status = status;
    li.dataset.source = c.source;
    return li;
  }));
}

$('#my-coupons-refresh')?.addEventListener('click', loadMyCoupons);

// showDowngrade warns that the tier drops at the start of next month unless more points are earned.
function showDowngrade(dg) {
  const el = $('#tier-warning');
  if (!dg) { el.hidden = true; return; }
  const when = new Date(dg.at).toLocaleDateString(lang, { month: 'short', day: 'numeric' });
  const cap = (tier) => (TIER_NAMES[tier] ? tierName(tier) : tier[0].toUpperCase() + tier.slice(1));
  const need = dg.basis === 'spend' ? t('viewer.tier.spendMore', { amount: dg.needed }) : t('viewer.tier.earnMore', { count: dg.needed }); // tiers by spend or points
  el.textContent = t('viewer.tier.warning', { need, date: when, from: cap(dg.from), to: cap(dg.to) });
  el.hidden = false;
  toast(el.textContent, 'info', 7000);
}

function onPoints(d) {
  const tierChanged = setPoints(d.balance, d.tier);
  const delta = Number(d.delta) || 0;
  if (delta !== 0 || d.capped) {
    state.history.unshift({ reason: d.reason, delta, capped: !!d.capped, at: new Date() });
    state.history.length = Math.min(state.history.length, 20);
    renderHistory();
  }
  if (delta > 0) {
    const f = $('#points-float');
    f.textContent = `+${delta}`;
    f.classList.remove('go');
    void f.offsetWidth;
    f.classList.add('go');
  }
  if (d.capped) toast(t('viewer.points.cap'), 'info', 6000);
  if (tierChanged) toast(t('viewer.points.tierUp', { tier: TIER_NAMES[state.points.tier] ? tierName(state.points.tier) : state.points.tier[0].toUpperCase() + state.points.tier.slice(1) }), 'success', 6000);
}

function renderHistory() {
  $('#points-empty').hidden = state.history.length > 0;
  $('#points-history').replaceChildren(...state.history.map((e) => h('li.history-row', {},
    h('span.history-reason', {}, reasonText(e.reason), e.capped ? h('span.capped', {}, t('viewer.points.capped')) : ''),
    h('span.history-time', {}, hhmm(e.at)),
    h(`span.history-delta${e.delta < 0 ? '.neg' : ''}`, {}, `${e.delta > 0 ? '+' : ''}${e.delta}`),
  )));
}

// ---------- product Q&A ----------

const UPVOTES_KEY = 'kudos.upvotes';

function renderQuestions(list) {
  const upvoted = loadJSON(UPVOTES_KEY, {});
  const sorted = [...list].sort((a, b) => (b.pinned ? 1 : 0) - (a.pinned ? 1 : 0) || (b.votes || 0) - (a.votes || 0));
  $('#qa-empty').hidden = sorted.length > 0;
  $('#qa-list').replaceChildren(...sorted.map((q) => {
    const up = h('button.qa-upvote', { type: 'button', 'aria-label': t('viewer.qa.upvote'), onclick: () => upvoteQuestion(q.id, up) },
      h('span.ico', { html: '<svg><use href="#i-up"/></svg>' }), h('span', {}, String(q.votes || 0)));
    up.classList.toggle('done', !!upvoted[q.id]);
    up.disabled = !!upvoted[q.id] || q.user === state.me.user;
    const li = h('li.qa-item', { dataset: { id: q.id } },
      up,
      h('div.qa-body', {},
        h('div.qa-text', {}, q.text),
        h('div.qa-meta', {},
          q.pinned ? h('span.tag.tag-pin', {}, t('viewer.qa.pinned')) : '',
          q.answered ? h('span.tag.tag-ok', {}, t('viewer.qa.answered')) : '',
          h('span', {}, q.user === state.me.user ? t('viewer.you') : q.name || t('viewer.guest')),
          q.at ? h('span', {}, ` · ${hhmm(q.at)}`) : '',
        ),
      ),
    );
    li.classList.toggle('pinned', !!q.pinned);
    return li;
  }));
}

async function upvoteQuestion(id, btn) {
  btn.disabled = true;
  try {
    await socket.request('question.upvote', { question_id: id });
  } catch (err) {
    if (err.code !== 'duplicate') {
      btn.disabled = false;
      toast(errorText(err), 'error');
      return;
    }
  }
  const upvoted = loadJSON(UPVOTES_KEY, {});
  upvoted[id] = true;
  saveJSON(UPVOTES_KEY, upvoted);
  btn.classList.add('done');
}

$('#qa-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('#qa-input');
  const text = input.value.trim();
  if (!text) return;
  const note = $('#qa-error');
  note.textContent = '';
  try {
    await socket.request('question.ask', { text });
    input.value = '';
    toast(t('viewer.qa.sent'), 'success');
  } catch (err) {
    note.textContent = errorText(err);
  }
});

// ---------- replay ----------
// An ended live replays from GET /streams/:id/timeline: everything that appeared on screen at its offset.
// Quiz questions can still be answered (POST …/replay/answers) for a share of the points.

const replay = { items: null, next: 0, pos: 0, duration: 0, playing: false, last: 0 };

async function openReplay() {
  const note = $('#replay-note');
  note.textContent = '';
  try {
    const items = [];
    let cursor = '';
    let duration = 0;
    do {
      const q = `limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await api('GET', `/streams/${encodeURIComponent(streamId)}/timeline?${q}`);
      items.push(...page.items);
      duration = page.duration_ms || 0;
      cursor = page.next_cursor;
    } while (cursor);
    replay.items = items;
    replay.duration = Math.max(duration, items.length ? items[items.length - 1].offset_ms : 0);
  } catch (err) {
    note.textContent = errorText(err);
    return;
  }
  $('#ended-overlay').hidden = true;
  $('#replay-bar').hidden = false;
  $('#replay-scrub').max = String(replay.duration);
  resetReplayScreen(); // the replay rebuilds the screen from the start
  seekReplay(0);
  playReplay(true);
}

function resetReplayScreen() {
  resetChat([]);
  for (const card of [pollCard, quizCard, couponCard, drawCard]) card.hidden = true;
  state.poll = null;
  state.quiz = null;
  state.likes.total = 0;
  renderLikes();
}

function applyReplayItem(it) {
  const d = it.data || {};
  switch (it.type) {
    case 'comment': return addComment(d);
    case 'poll.opened': return showPoll(d.poll);
    case 'poll.closed': return onPollTally(d, true);
    case 'quiz.question':
      return showQuizQuestion({ ...d, deadline_ms: Date.now() + (d.time_limit_s || 20) * 1000 });
    case 'quiz.reveal': return onQuizReveal(d);
    case 'coupon.drop': return toast(t('viewer.replay.couponDropped', { title: d.title }), 'info');
    case 'draw.result':
      return toast(t('viewer.replay.drawResult', { prize: d.prize, winners: (d.winners || []).map((w) => w.name || w.user).join(', ') || t('viewer.replay.noWinners') }), 'info', 6000);
    case 'likes': return onLikes(d);
    default: return undefined;
  }
}

function seekReplay(pos) {
  if (pos < replay.pos) {
    resetReplayScreen();
    replay.next = 0;
  }
  replay.pos = Math.max(0, Math.min(pos, replay.duration));
  while (replay.next < replay.items.length && replay.items[replay.next].offset_ms <= replay.pos) {
    applyReplayItem(replay.items[replay.next++]);
  }
  $('#replay-scrub').value = String(replay.pos);
  $('#replay-time').textContent = `${clock(replay.pos)} / ${clock(replay.duration)}`;
  if (replay.pos >= replay.duration) playReplay(false);
}

function playReplay(on) {
  replay.playing = on;
  replay.last = Date.now();
  $('#replay-bar').dataset.state = on ? 'playing' : 'paused';
  $('#replay-play').textContent = on ? '❚❚' : '▶';
  $('#replay-play').setAttribute('aria-label', on ? t('viewer.replay.pause') : t('viewer.replay.play'));
}

function replayTick() {
  if (!replay.items || !replay.playing) return;
  const now = Date.now();
  seekReplay(replay.pos + (now - replay.last));
  replay.last = now;
}

async function answerReplayQuiz(i) {
  const q = state.quiz;
  if (!q || q.myChoice !== null || q.revealed) return;
  q.myChoice = i;
  markQuizChoices();
  try {
    const res = await api('POST', `/streams/${encodeURIComponent(streamId)}/replay/answers`, {
      token: state.token, body: { quiz_id: q.quiz_id, question_id: q.question_id, choice: i },
    });
    $('#quiz-foot').textContent = res.correct ? t('viewer.replay.correct', { points: res.points }) : t('viewer.replay.wrong');
  } catch (err) {
    $('#quiz-foot').textContent = err.code === 'duplicate' ? t('viewer.replay.alreadyAnswered') : errorText(err);
  }
}

$('#replay-open').addEventListener('click', openReplay);
$('#replay-play').addEventListener('click', () => {
  if (replay.pos >= replay.duration) seekReplay(0);
  playReplay(!replay.playing);
});
$('#replay-scrub').addEventListener('input', (ev) => seekReplay(Number(ev.target.value)));
setInterval(replayTick, 250);

// ---------- feedback ----------

const FEEDBACK_KEY = `kudos.feedback.${streamId}`;

function buildFeedback() {
  const done = loadJSON(FEEDBACK_KEY, {});
  const stars = $('#rating-stars');
  for (let s = 1; s <= 5; s++) {
    stars.append(h('button.rating-star', {
      type: 'button', role: 'radio', 'aria-label': tn('viewer.rate.stars', s), dataset: { score: String(s) },
      html: '<svg><use href="#i-star"/></svg>', onclick: () => sendFeedback('rating', s),
    }));
  }
  const nps = $('#nps-options');
  for (let s = 0; s <= 10; s++) {
    nps.append(h('button.nps-option', { type: 'button', dataset: { score: String(s) }, onclick: () => sendFeedback('nps', s) }, String(s)));
  }
  if (done.rating) markFeedback('rating', done.rating);
  if (done.nps !== undefined) markFeedback('nps', done.nps);
}

function markFeedback(kind, score) {
  const sel = kind === 'rating' ? '.rating-star' : '.nps-option';
  document.querySelectorAll(sel).forEach((b) => {
    const v = Number(b.dataset.score);
    b.disabled = true;
    b.classList.toggle('on', kind === 'rating' ? v <= score : v === score);
  });
  $(kind === 'rating' ? '#rating-note' : '#nps-note').textContent = t('viewer.feedback.thanks');
}

// onFeedbackPrompt shows the question the host just asked (a rating or NPS), in the rate tab.
function onFeedbackPrompt(d) {
  const kind = d.kind === 'nps' ? 'nps' : 'rating';
  const answered = loadJSON(FEEDBACK_KEY, {})[kind] !== undefined;
  const q = $('#feedback-prompt');
  q.textContent = answered ? t('viewer.feedback.alreadyAnswered', { question: d.question || '' }) : (d.question || '');
  q.dataset.kind = kind;
  q.hidden = false;
  $('#rating-block').classList.toggle('asked', kind === 'rating');
  $('#nps-block').classList.toggle('asked', kind === 'nps');
  openTab('rate');
  if (!answered) toast(t('viewer.feedback.hostAsks', { question: d.question }), 'info', 6000);
}

async function sendFeedback(kind, score) {
  const note = $(kind === 'rating' ? '#rating-note' : '#nps-note');
  try {
    await socket.request('feedback.send', { kind, score });
  } catch (err) {
    if (err.code !== 'duplicate') {
      note.textContent = errorText(err);
      return;
    }
  }
  const done = loadJSON(FEEDBACK_KEY, {});
  done[kind] = score;
  saveJSON(FEEDBACK_KEY, done);
  markFeedback(kind, score);
}

// ---------- side panel (tabs / bottom sheet on phones) ----------

function openTab(name) {
  document.querySelectorAll('.tab').forEach((t) => t.classList.toggle('active', t.dataset.tab === name));
  document.querySelectorAll('.tab-panel').forEach((p) => { p.hidden = p.dataset.panel !== name; });
  if (name === 'rewards') loadMyCoupons();
  document.body.classList.add('sheet-open');
  $('#side-scrim').hidden = false;
}

function closeSheet() {
  document.body.classList.remove('sheet-open');
  $('#side-scrim').hidden = true;
}

document.querySelectorAll('[data-tab]').forEach((b) => b.addEventListener('click', () => openTab(b.dataset.tab)));
$('#side-scrim').addEventListener('click', closeSheet);
$('#side-close').addEventListener('click', closeSheet);
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape') closeSheet();
});
// ---------- products: the one being presented, and the shelf ----------

function yuan(fen) {
  return `¥${(fen / 100).toFixed(fen % 100 === 0 ? 0 : 2)}`;
}

// safeImage: only https images or our own paths are shown (never http, data: or another scheme).
function safeImage(url) {
  if (typeof url !== 'string' || !url) return '';
  if (url.startsWith('/') && !url.startsWith('//')) return url;
  try {
    return new URL(url).protocol === 'https:' ? url : '';
  } catch {
    return '';
  }
}

function showProduct(p) {
  state.product = p;
  const card = $('#product-card');
  if (!p) {
    card.hidden = true;
    return;
  }
  $('#product-name').textContent = p.title;
  $('#product-price').textContent = yuan(p.price_fen);
  $('#product-list-price').textContent = p.list_price_fen > p.price_fen ? yuan(p.list_price_fen) : '';
  const thumb = $('#product-thumb');
  const img = safeImage(p.image_url);
  thumb.classList.toggle('has-image', Boolean(img));
  thumb.style.backgroundImage = img ? `url("${encodeURI(img)}")` : '';
  card.hidden = false;
}

// onPinned shows the pinned product and puts it on the shelf if this page's copy does not have it yet (it
// was added after the page loaded), without a request: every viewer gets the frame at once.
function onPinned(p) {
  showProduct(p);
  const shelf = state.shelf || [];
  if (p && !shelf.some((x) => x.id === p.id)) renderShelf([...shelf, p]);
}

function hideProduct(id) {
  if (state.product && state.product.id === id) showProduct(null);
}

async function loadShelf() {
  try {
    const res = await api('GET', `/streams/${encodeURIComponent(streamId)}/products`);
    renderShelf(Array.isArray(res) ? res : res.products || []);
  } catch {
    /* the shelf is optional: the live goes on without it */
  }
}

function renderShelf(products) {
  state.shelf = products;
  $('#shelf-count').textContent = String(products.length);
  $('#shelf-button').hidden = products.length === 0;
  const list = $('#shelf-list');
  list.replaceChildren(...products.map((p) => {
    const b = h('button', { type: 'button', onclick: () => openProduct(p) }, h('span', {}, p.title), h('strong', {}, yuan(p.price_fen)));
    b.dataset.productId = p.id;
    return h('li', {}, b);
  }));
}

// openProduct tells the server (product.click, once a minute counted) and opens the shop's page.
async function openProduct(p) {
  try {
    await socket.request('product.click', { product_id: p.id });
  } catch {
    /* the click is counted best effort; the shopper still gets the product */
  }
  // In a shop's frame, the shop takes the buyer to the product (or its cart): docs/protocol.md, "Embedding".
  if (embed && embed.post('kudos:product.click', { product_id: p.id, title: p.title, price_fen: p.price_fen, url: p.url })) return;
  window.open(p.url, '_blank', 'noopener');
}

$('#buy-button').addEventListener('click', () => {
  if (state.product) openProduct(state.product);
});
$('#shelf-button').addEventListener('click', () => {
  const list = $('#shelf-list');
  list.hidden = !list.hidden;
  if (!list.hidden) loadShelf();
});

// On wide screens the live cards move out of the video into the side column, so they never cover the chat.
const wide = window.matchMedia('(min-width: 960px)');
function placeCards() {
  const cards = $('#stage-cards');
  const home = wide.matches ? $('#side-live') : $('#stage');
  if (cards.parentElement !== home) home.prepend(cards);
}
wide.addEventListener('change', placeCards);
placeCards();

// ---------- countdowns ----------

function tick() {
  const now = Date.now();
  document.querySelectorAll('[data-deadline]').forEach((el) => {
    const deadline = Number(el.dataset.deadline);
    if (!deadline) return;
    el.textContent = deadline > now ? clock(deadline - now) : '0:00';
    el.classList.toggle('urgent', deadline - now < 5000);
  });
  const q = state.quiz;
  if (q && q.deadline_ms && !q.revealed) {
    const total = (q.time_limit_s || 20) * 1000;
    const left = Math.max(0, q.deadline_ms - now);
    const fill = $('#quiz-timer-fill');
    if (fill) fill.style.width = `${Math.min(100, (100 * left) / total)}%`;
    if (left === 0 && !q.lateMarked) {
      q.lateMarked = true;
      markQuizChoices();
      if (q.myChoice === null) $('#quiz-foot').textContent = t('viewer.quiz.timeUpWaiting');
    }
  }
  for (const c of state.coupons.values()) {
    if (c.expires_ms && c.expires_ms < now && !c.expired) {
      c.expired = true;
      if (couponCard.dataset.couponId === c.id) {
        const claim = $('#coupon-claim');
        if (claim) {
          claim.disabled = true;
          claim.textContent = t('viewer.expired');
        }
        setTimeout(() => {
          if (couponCard.dataset.couponId === c.id) couponCard.hidden = true;
        }, 8000);
      }
    }
  }
  const send = $('#chat-send');
  if (state.cooldownUntil > now) {
    send.dataset.cooldown = String(Math.ceil((state.cooldownUntil - now) / 1000));
  } else delete send.dataset.cooldown;
}

// ---------- start ----------

buildFeedback();
renderHistory();
updateCounter();
setInterval(tick, 250);
if (wide.matches) openTab('qa');
else {
  document.querySelectorAll('.tab').forEach((t) => t.classList.toggle('active', t.dataset.tab === 'qa'));
}

(async () => {
  setConn('connecting', t('viewer.conn.connecting'));
  await signIn();
  socket.start();
})();
