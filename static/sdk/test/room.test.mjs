// The SDK against a real Kudos server: KUDOS_BIN is the server binary, KUDOS_TEST_SECRET its token secret.
// Each test starts its own server on a free 127.0.0.1 port (in-memory state, no Kafka) and stops it.
// Run by cmd/kudos's TestClientSDK (go test), or: KUDOS_BIN=… KUDOS_TEST_SECRET=… node --test --experimental-websocket test/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { KudosRoom, KudosError } from '../kudos-client.js';

const BIN = process.env.KUDOS_BIN;
const SECRET = process.env.KUDOS_TEST_SECRET;
if (!BIN || !SECRET) throw new Error('KUDOS_BIN and KUDOS_TEST_SECRET must be set (go test ./cmd/kudos -run TestClientSDK sets them)');

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** token mints an HS256 token as the server verifies it. */
function token({ sub, role = 'viewer', stream, ttlS = 3600 }) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub, name: sub, role, iat: now, exp: now + ttlS };
  if (stream) claims.stream = stream;
  const head = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${head}.${createHmac('sha256', SECRET).update(head).digest('base64url')}`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** startServer runs the server on port and waits until it answers /healthz. */
async function startServer(port) {
  const proc = spawn(BIN, [], {
    env: {
      ...process.env,
      KUDOS_TOKEN_SECRET: SECRET,
      KUDOS_ADDR: `127.0.0.1:${port}`,
      KUDOS_KAFKA_BROKERS: 'none',
      KUDOS_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'kudos-sdk-')),
      KUDOS_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return { proc, base };
    } catch {
      /* not yet */
    }
    await sleep(50);
  }
  proc.kill('SIGKILL');
  throw new Error('the server did not start');
}

function stopServer(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    proc.once('exit', resolve);
    proc.kill('SIGTERM');
  });
}

async function api(base, method, path, tok, body) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const hostToken = token({ sub: 'host-1', role: 'host' });

async function withShow(fn) {
  const port = await freePort();
  let server = await startServer(port);
  await api(server.base, 'POST', '/streams', hostToken, { id: 'sdk-show', title: 'SDK show' });
  const restart = async () => {
    await stopServer(server.proc);
    server = await startServer(port);
    await api(server.base, 'POST', '/streams', hostToken, { id: 'sdk-show', title: 'SDK show again' });
    return server;
  };
  try {
    await fn(server, restart);
  } finally {
    await stopServer(server.proc);
  }
}

/** next resolves with the next frame of type on room (or rejects after ms). */
function next(room, type, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no ${type} in ${ms} ms`)); }, ms);
    const off = room.on(type, (d) => { clearTimeout(timer); off(); resolve(d); });
  });
}

test('join, comment and vote: acks resolve, refusals reject with the code', async () => {
  await withShow(async ({ base }) => {
    const ann = new KudosRoom({ baseURL: base, stream: 'sdk-show', getToken: () => token({ sub: 'ann' }) });
    const bob = new KudosRoom({ baseURL: base, stream: 'sdk-show', getToken: () => token({ sub: 'bob' }) });
    try {
      const welcome = await ann.connect();
      assert.equal(welcome.user, 'ann');
      assert.equal(welcome.stream.id, 'sdk-show');
      const everyFrame = [];
      bob.on('*', (data, type) => everyFrame.push([type, data]));
      await bob.connect();

      const seen = next(bob, 'comment');
      const ack = await ann.comment('hello from the SDK');
      assert.ok(ack.comment_id, 'the ack carries the comment id');
      assert.equal((await seen).text, 'hello from the SDK');
      assert.equal(everyFrame[0][0], 'welcome', "'*' listeners get every frame with its type, the welcome first");
      assert.ok(everyFrame.some(([type, d]) => type === 'comment' && d.text === 'hello from the SDK'), "'*' saw the comment");
      assert.ok(!everyFrame.some(([type]) => type === 'state'), "'*' does not get the room's state events");

      const liked = next(ann, 'likes');
      assert.equal(bob.send('like.send', { count: 3 }), true, 'send on an open room');
      assert.ok((await liked).total >= 3, 'a frame sent with send() takes effect');

      const opened = next(ann, 'poll.opened');
      const poll = await api(base, 'POST', '/streams/sdk-show/polls', hostToken, { question: 'Red or blue?', options: ['red', 'blue'] });
      assert.equal((await opened).poll.id, poll.id);
      await ann.vote(poll.id, 1);
      await assert.rejects(ann.vote(poll.id, 0), (err) => err instanceof KudosError && err.code === 'duplicate');
      await assert.rejects(ann.vote(poll.id, 7), (err) => err instanceof KudosError && err.code === 'invalid');
    } finally {
      ann.close();
      bob.close();
    }
  });
});

test('reconnects after a server restart, with a fresh token and a new welcome', async () => {
  await withShow(async ({ base }, restart) => {
    let tokens = 0;
    const room = new KudosRoom({
      baseURL: base, stream: 'sdk-show', backoffMinMs: 100, backoffMaxMs: 400, connectTimeoutMs: 1000,
      getToken: () => { tokens++; return token({ sub: 'cat' }); },
    });
    try {
      await room.connect();
      assert.equal(tokens, 1);
      const states = [];
      room.on('state', (s) => { states.push(s.state); if (process.env.SDK_DEBUG) console.error('state', JSON.stringify(s)); });
      const again = next(room, 'welcome', 15000);
      await restart();
      const w = await again;
      assert.equal(w.stream.title, 'SDK show again', 'the welcome after the reconnect carries the new state');
      assert.ok(states.includes('reconnecting'));
      assert.ok(tokens >= 2, `getToken called ${tokens} times, want once per connection`);
      const ack = await room.comment('back');
      assert.ok(ack.comment_id);
    } finally {
      room.close();
    }
  });
});

test('a token that expires closes the socket with 4001; the room gets a new token and rejoins', async () => {
  await withShow(async ({ base }) => {
    let tokens = 0;
    const room = new KudosRoom({
      baseURL: base, stream: 'sdk-show', backoffMinMs: 100, backoffMaxMs: 400,
      getToken: () => { tokens++; return token({ sub: 'dan', ttlS: tokens === 1 ? 2 : 3600 }); },
    });
    try {
      await room.connect();
      const closed = new Promise((resolve) => room.on('state', (s) => { if (s.state === 'reconnecting' && s.code) resolve(s); }));
      const again = next(room, 'welcome', 15000);
      const s = await closed;
      assert.equal(s.code, 4001);
      assert.equal(s.reason, 'token_expired');
      await again;
      assert.equal(tokens, 2);
    } finally {
      room.close();
    }
  });
});

test('a call on a closed room rejects with closed, before and after it opened', async () => {
  // Never opened: no server needed, the room was closed before its first dial finished.
  const idle = new KudosRoom({ baseURL: 'http://127.0.0.1:9', stream: 'sdk-show', getToken: () => 'unused' });
  idle.close();
  await assert.rejects(idle.comment('anyone?'), (err) => err instanceof KudosError && err.code === 'closed');
  assert.equal(idle.send('like.send', { count: 1 }), false);

  await withShow(async ({ base }) => {
    const room = new KudosRoom({ baseURL: base, stream: 'sdk-show', getToken: () => token({ sub: 'eve' }) });
    await room.connect();
    room.close();
    await assert.rejects(room.vote('p1', 0), (err) => err instanceof KudosError && err.code === 'closed');
    await assert.rejects(room.refreshToken(), (err) => err instanceof KudosError && err.code === 'closed');
  });
});

test('connect again right after close: one socket, one welcome', async () => {
  await withShow(async ({ base }) => {
    // getToken takes a while (a shop's back end): the old socket's close arrives while the new dial waits.
    const room = new KudosRoom({
      baseURL: base, stream: 'sdk-show', backoffMinMs: 100, backoffMaxMs: 400,
      getToken: async () => { await sleep(300); return token({ sub: 'fay' }); },
    });
    try {
      await room.connect();
      room.close();
      let welcomes = 0;
      room.on('welcome', () => { welcomes++; });
      await room.connect();
      await sleep(1500);
      assert.equal(welcomes, 1, 'one welcome after connecting again: the closed socket started no second dial');
    } finally {
      room.close();
    }
  });
});
