// The pages' language module (static/assets/i18n.js) under Node's test runner; run by TestI18nModule
// (go test ./cmd/internal/httpapi -run TestI18nModule) or: node --test cmd/internal/httpapi/testdata/i18n.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

const assets = new URL('../../../../static/assets/', import.meta.url);

// load imports a fresh copy of the module as a page at url would run it, with fetch serving the catalogues
// from the repository, as the server serves /assets/.
async function load(url, languages = ['en-US']) {
  globalThis.location = new URL(url);
  Object.defineProperty(globalThis, 'navigator', { value: { languages, language: languages[0] }, configurable: true });
  globalThis.fetch = async (path) => {
    const m = /^\/assets\/i18n\/([\w-]+)\.json$/.exec(path);
    if (!m) return { ok: false };
    const text = await readFile(new URL(`i18n/${m[1]}.json`, assets), 'utf8');
    return { ok: true, json: async () => JSON.parse(text) };
  };
  return import(new URL(`i18n.js?${encodeURIComponent(url)}&${languages.join(',')}`, assets).href);
}

test('the language: ?lang= first, then the browser, zh* → zh-CN, else en', async () => {
  const { normalizeLang, pickLang } = await load('http://kudos.test/');
  for (const [tag, want] of [['zh-CN', 'zh-CN'], ['zh', 'zh-CN'], ['zh-Hans', 'zh-CN'], ['zh-TW', 'zh-CN'], ['zh_CN', 'zh-CN'], ['ZH-cn', 'zh-CN'],
    ['en', 'en'], ['en-GB', 'en'], ['fr', ''], ['', ''], [null, ''], ['zhx', ''], ['english', '']]) {
    assert.equal(normalizeLang(tag), want, String(tag));
  }
  assert.equal(pickLang('zh-CN', ['en-US']), 'zh-CN');
  assert.equal(pickLang('en', ['zh-CN']), 'en');
  assert.equal(pickLang('fr', ['zh-TW', 'en']), 'zh-CN'); // an unknown ?lang= is ignored
  assert.equal(pickLang(null, ['fr-FR', 'zh-CN']), 'en'); // the first preferred language decides
  assert.equal(pickLang(null, []), 'en');
  assert.equal(pickLang(null, [undefined]), 'en');
});

test('zh-CN: the catalogue, placeholders, plurals and 万 / 亿', async () => {
  const m = await load('http://kudos.test/?stream=s1&lang=zh-CN', ['en-US']);
  assert.equal(m.lang, 'zh-CN');
  assert.equal(m.t('viewer.tab.rewards'), '奖励');
  assert.equal(m.t('viewer.watchingAs', { name: 'Ann' }), '观看身份：Ann');
  assert.equal(m.t('viewer.watchingAs'), '观看身份：{name}'); // a missing value stays visible
  assert.equal(m.tn('viewer.votes', 1), '1 票');
  assert.equal(m.tn('viewer.votes', 3), '3 票');
  assert.equal(m.t('no.such.key'), 'no.such.key');
  assert.equal(m.formatNumber(950), '950');
  assert.equal(m.formatNumber(12345), '1.2万');
  assert.equal(m.formatNumber(340000000), '3.4亿');
  assert.equal(m.formatYuan(1234), '¥12.34');
  assert.equal(m.formatYuan(0), '¥0.00');
});

test('en by the browser: English, plurals, 12K', async () => {
  const m = await load('http://kudos.test/?stream=s1', ['en-GB', 'zh-CN']);
  assert.equal(m.lang, 'en');
  assert.equal(m.tn('viewer.votes', 1), '1 vote');
  assert.equal(m.tn('viewer.votes', 2), '2 votes');
  assert.equal(m.tn('viewer.votes', 0), '0 votes');
  assert.equal(m.formatNumber(12345), '12K');
  assert.equal(m.formatNumber(1234), '1.2K');
  assert.equal(m.formatNumber(3400000), '3.4M');
  assert.equal(m.formatYuan(129900), '¥1,299.00');
  const zh = await load('http://kudos.test/', ['zh-TW', 'en']);
  assert.equal(zh.lang, 'zh-CN');
});

test('Enter sends, except during an input method composition', async () => {
  const { isEnterToSend } = await load('http://kudos.test/');
  assert.equal(isEnterToSend({ key: 'Enter', isComposing: false, keyCode: 13 }), true);
  assert.equal(isEnterToSend({ key: 'Enter', isComposing: true, keyCode: 229 }), false);
  assert.equal(isEnterToSend({ key: 'Enter', isComposing: false, keyCode: 229 }), false); // Safari's ending Enter
  assert.equal(isEnterToSend({ key: 'Enter', isComposing: false, keyCode: 13, shiftKey: true }), false);
  assert.equal(isEnterToSend({ key: 'a', isComposing: false, keyCode: 65 }), false);
});
