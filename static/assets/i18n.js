// The pages' languages: Simplified Chinese (zh-CN) and English (en), one catalogue each in
// /assets/i18n/<lang>.json (the same keys in both; static/i18n_test.go checks them and every key the pages use).
//
// The language is ?lang= (zh-CN or en; zh, zh-Hans… count as zh-CN), else the browser's first preferred
// language (navigator.languages: zh* → zh-CN, anything else → en). <html lang> is set to it.
//
//   t('viewer.chat.send')                        → the text of a key
//   t('viewer.poll.winner', { option: 'Teal' })  → "{option}" placeholders filled in
//   tn('viewer.votes', 3)                        → plurals: key.one / key.other by Intl.PluralRules, {count} = 3
//   formatNumber(12345)                  → 1.2万 (zh-CN) or 12K (en): the buyer's convention for counts
//   formatYuan(1234)                     → ¥12.34 (amounts are in fen)
//   localize(root)                       → the static markup: [data-i18n] text, [data-i18n-attr] attributes
//
// No i18n library: two languages, flat keys and {name} placeholders need none (docs/decisions.md).

export const LANGS = Object.freeze(['zh-CN', 'en']);

/** normalizeLang maps a language tag to a supported language, or '' when none fits. */
export function normalizeLang(tag) {
  const s = String(tag || '').trim().toLowerCase();
  if (!s) return '';
  if (s === 'zh' || s.startsWith('zh-') || s.startsWith('zh_')) return 'zh-CN';
  if (s === 'en' || s.startsWith('en-') || s.startsWith('en_')) return 'en';
  return '';
}

/** pickLang chooses the language: a supported ?lang= first, then the browser's first language (zh* → zh-CN, else en). */
export function pickLang(query, preferred) {
  const asked = normalizeLang(query);
  if (asked) return asked;
  const first = (preferred || []).find(Boolean);
  return normalizeLang(first) === 'zh-CN' ? 'zh-CN' : 'en';
}

const nav = globalThis.navigator || {};
const search = globalThis.location ? new URLSearchParams(globalThis.location.search) : new URLSearchParams();

/** lang is this page's language. */
export const lang = pickLang(search.get('lang'), nav.languages && nav.languages.length ? nav.languages : [nav.language]);

if (globalThis.document) document.documentElement.lang = lang;

async function loadCatalogue(l) {
  try {
    const res = await fetch(`/assets/i18n/${l}.json`);
    if (res.ok) return await res.json();
  } catch {
    /* fall through */
  }
  return null;
}

/**
 * catalogue is the loaded catalogue of lang (key → text); should it not load, the English one, and should
 * that not either, none: the markup keeps its English text and t() shows keys.
 */
export const catalogue = (await loadCatalogue(lang)) || (lang !== 'en' && (await loadCatalogue('en'))) || {};

function fill(text, vars) {
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (m, name) => (Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : m));
}

/** t returns the text of key in this page's language, with {name} placeholders filled from vars. */
export function t(key, vars) {
  const text = catalogue[key];
  return fill(typeof text === 'string' ? text : key, vars);
}

const plurals = new Intl.PluralRules(lang);

/** tn is t for a count: key.one or key.other as the language's plural rules say, with {count} set to n. */
export function tn(key, n, vars) {
  const form = `${key}.${plurals.select(Number(n) || 0)}`;
  const k = typeof catalogue[form] === 'string' ? form : `${key}.other`;
  return t(k, { count: n, ...vars });
}

const compactFormat = new Intl.NumberFormat(lang, { notation: 'compact' });
const moneyFormat = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** formatNumber formats a count compactly in the buyer's convention: 950, 1.2万, 3.4亿 (zh-CN); 950, 1.2K, 12K, 3.4M (en). */
export function formatNumber(n) {
  return compactFormat.format(Number(n) || 0);
}

/** formatYuan formats an amount in fen as yuan with two decimals: 1234 → ¥12.34. */
export function formatYuan(fen) {
  return `¥${moneyFormat.format((Number(fen) || 0) / 100)}`;
}

/**
 * localize translates static markup under root: the text of every [data-i18n="key"] element (leaves only: the
 * text replaces the children) and the attributes named by [data-i18n-attr="attr:key;attr:key"] (placeholder,
 * aria-label, title…).
 */
export function localize(root = document) {
  const has = (key) => typeof catalogue[key] === 'string';
  for (const el of root.querySelectorAll('[data-i18n]')) {
    if (has(el.dataset.i18n)) el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && has(key)) el.setAttribute(attr, t(key));
    }
  }
}

/**
 * isEnterToSend reports whether a keydown is a plain Enter that should send: not while an input method is
 * composing (isComposing, or keyCode 229, which some browsers give the Enter that ends a composition), and not
 * with Shift.
 */
export function isEnterToSend(ev) {
  return ev.key === 'Enter' && !ev.isComposing && ev.keyCode !== 229 && !ev.shiftKey;
}
