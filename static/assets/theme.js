// Theming of the embeddable room: the whitelist of CSS variables a shop may set, and the check of their values.
// Pure functions, no DOM: embed.js applies the result; a Node test (cmd/internal/httpapi/testdata) runs them.
//
// A shop names a variable by its short name ("accent") or its CSS name ("--kudos-accent"), in the embed URL
// (?theme.accent=%23ff5000) or in a kudos:theme message (docs/protocol.md, "Embedding"). Names not in THEME are
// ignored; a value of the wrong kind is rejected; both are reported, never applied.

/**
 * THEME lists the variables: their kind (the only values accepted) and the room's own variables (app.css) they
 * set, besides --kudos-<name> itself.
 */
export const THEME = Object.freeze({
  accent: { kind: 'color', vars: ['--accent'] }, // buttons, the like heart, highlights
  'accent-2': { kind: 'color', vars: ['--accent-2'] }, // the second stop of the accent gradient
  bg: { kind: 'color', vars: ['--bg'] }, // the page behind the room
  panel: { kind: 'color', vars: ['--panel'] }, // the side panel (Q&A, rewards, rating)
  text: { kind: 'color', vars: ['--ink'] }, // text on the panel and the cards
  'text-muted': { kind: 'color', vars: ['--ink-2'] }, // secondary text
  line: { kind: 'color', vars: ['--line'] }, // separators
  radius: { kind: 'length', vars: ['--radius'] }, // corner radius of the cards
  font: { kind: 'font', vars: ['--font'] }, // the font family list
});

const MAX_VALUE = 100;
const HEX = /^#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;
// rgb()/rgba()/hsl()/hsla() with numbers, percentages, degrees, commas, spaces and the slash of alpha only:
// nothing that could close the declaration or load anything (no ';', '}', 'url(', quotes or backslashes).
const FUNC = /^(?:rgba?|hsla?)\(\s*[-+0-9.%,/\sdeg]*\)$/i;
const LENGTH = /^(?:0|\d{1,3}(?:\.\d{1,3})?(?:px|rem|em))$/;
// A font-family list: names, spaces, commas, hyphens and quotes.
const FONT = /^[A-Za-z0-9 ,'"-]+$/;

/** isColor reports whether v is a hex, rgb()/rgba() or hsl()/hsla() colour. */
export function isColor(v) {
  return typeof v === 'string' && v.length <= MAX_VALUE && (HEX.test(v.trim()) || FUNC.test(v.trim()));
}

/** isLength reports whether v is a length in px, rem or em (or 0), at most 999.999. */
export function isLength(v) {
  return typeof v === 'string' && LENGTH.test(v.trim());
}

/** isFont reports whether v is a plain font-family list. */
export function isFont(v) {
  return typeof v === 'string' && v.trim().length > 0 && v.length <= MAX_VALUE && FONT.test(v.trim());
}

const CHECK = { color: isColor, length: isLength, font: isFont };

/** themeName returns the short name of a variable ("--kudos-accent" → "accent"), or '' when not in THEME. */
export function themeName(name) {
  const short = typeof name === 'string' ? name.trim().replace(/^--kudos-/, '') : '';
  return Object.prototype.hasOwnProperty.call(THEME, short) ? short : '';
}

/**
 * parseTheme checks [name, value] pairs. It returns the declarations to apply ([cssVariable, value] pairs:
 * --kudos-<name> and the room's variables), the names ignored (not in THEME) and those rejected (a value of
 * the wrong kind).
 */
export function parseTheme(entries) {
  const apply = [];
  const ignored = [];
  const rejected = [];
  for (const [name, raw] of entries) {
    const short = themeName(name);
    if (!short) {
      ignored.push(String(name));
      continue;
    }
    const spec = THEME[short];
    if (!CHECK[spec.kind](raw)) {
      rejected.push(short);
      continue;
    }
    const value = raw.trim();
    for (const v of [`--kudos-${short}`, ...spec.vars]) apply.push([v, value]);
  }
  return { apply, ignored, rejected };
}

/** themeFromQuery picks the theme.<name> parameters of an embed URL's query. */
export function themeFromQuery(params) {
  const out = [];
  for (const [k, v] of params) {
    if (k.startsWith('theme.')) out.push([k.slice('theme.'.length), v]);
  }
  return out;
}
