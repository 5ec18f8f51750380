// The embed's theme validator (static/assets/theme.js) under Node's test runner; run by TestEmbedThemeValidator
// (go test ./cmd/internal/httpapi -run TestEmbedThemeValidator) or: node --test cmd/internal/httpapi/testdata/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { isColor, isFont, isLength, parseTheme, THEME, themeFromQuery, themeName } from '../../../../static/assets/theme.js';

test('colours: hex, rgb() and hsl() only', () => {
  for (const ok of ['#f50', '#ff5000', '#FF5000cc', '#abcd', 'rgb(255, 80, 0)', 'rgba(255,80,0,.5)', 'rgb(255 80 0 / 50%)', 'hsl(20deg 100% 50%)', 'hsla(20, 100%, 50%, 0.4)', ' #ff5000 ']) {
    assert.equal(isColor(ok), true, ok);
  }
  for (const bad of ['red', '#ff500', '#gg0000', 'ff5000', 'rgb(0,0,0);background:url(x)', 'rgb(0,0,0)}', 'url(https://evil.example/x.png)',
    'var(--x)', 'expression(alert(1))', 'rgb("0")', 'hsl(1,2,3) !important', '', 12, null, `rgb(${'1,'.repeat(60)}1)`]) {
    assert.equal(isColor(bad), false, String(bad));
  }
});

test('lengths: px, rem, em', () => {
  for (const ok of ['0', '8px', '0.5rem', '1.25em', '999px']) assert.equal(isLength(ok), true, ok);
  for (const bad of ['8', '8pt', '10%', '-4px', '1e3px', 'calc(1px + 2px)', '8px;color:red', '1000px', 'px', '']) {
    assert.equal(isLength(bad), false, bad);
  }
});

test('font: a plain family list', () => {
  for (const ok of ['Georgia, serif', '"PingFang SC", sans-serif', 'system-ui']) assert.equal(isFont(ok), true, ok);
  for (const bad of ['Georgia; color: red', 'url(x)', 'a\\62', '', 'x'.repeat(101)]) assert.equal(isFont(bad), false, bad);
});

test('names: the whitelist, by short or CSS name', () => {
  assert.equal(themeName('accent'), 'accent');
  assert.equal(themeName('--kudos-accent'), 'accent');
  assert.equal(themeName('--accent'), '');
  assert.equal(themeName('constructor'), '');
  assert.equal(themeName('__proto__'), '');
  assert.deepEqual(Object.keys(THEME).sort(), ['accent', 'accent-2', 'bg', 'font', 'line', 'panel', 'radius', 'text', 'text-muted']);
});

test('parseTheme applies the known names with good values, ignores unknown names, rejects bad values', () => {
  const got = parseTheme([
    ['accent', '#ff5000'], ['--kudos-radius', '12px'], ['evil', '#000'], ['bg', 'url(x)'], ['radius', 'red'], ['text', 'rgb(0, 0, 0)'],
  ]);
  assert.deepEqual(got.apply, [
    ['--kudos-accent', '#ff5000'], ['--accent', '#ff5000'],
    ['--kudos-radius', '12px'], ['--radius', '12px'],
    ['--kudos-text', 'rgb(0, 0, 0)'], ['--ink', 'rgb(0, 0, 0)'],
  ]);
  assert.deepEqual(got.ignored, ['evil']);
  assert.deepEqual(got.rejected, ['bg', 'radius']);
});

test('themeFromQuery reads theme.<name> parameters only', () => {
  const q = new URLSearchParams('parent=https%3A%2F%2Fshop.example&theme.accent=%23ff5000&theme.bg=red&accent=%23000000');
  assert.deepEqual(themeFromQuery(q), [['accent', '#ff5000'], ['bg', 'red']]);
});
