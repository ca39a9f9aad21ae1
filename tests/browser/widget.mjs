#!/usr/bin/env node
// Browser check of the embeddable chat widget, driven by the Rust integration tests:
//
//   node tests/browser/widget.mjs <baseUrl> <screenshotDir>
//
// Opens <baseUrl>/ (the demo dealer page) in Debian's headless Chromium, talks to the
// bot through the widget like a customer would, and prints one `ok - ...` line per
// check. On the first failure it prints `not ok - ...` (what was expected, what was
// seen), saves <screenshotDir>/widget-failure.png and exits 1.
//
// Needs `npm ci` in tests/browser (playwright-core only; it drives the system
// Chromium at $CHROMIUM_PATH or /usr/bin/chromium and never downloads a browser).

import { chromium } from 'playwright-core';
import fs from 'node:fs/promises';
import path from 'node:path';

const OVERALL_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 15_000;

const [baseArg, shotArg] = process.argv.slice(2);
if (!baseArg || !shotArg) {
  console.error('usage: node tests/browser/widget.mjs <baseUrl> <screenshotDir>');
  process.exit(2);
}
const BASE = baseArg.replace(/\/+$/, '');
const SHOTS = path.resolve(shotArg);

class CheckFailed extends Error {}

let browser = null;
let page = null;
let passed = 0;
let finishing = false;
const pageErrors = [];
const consoleErrors = [];

const ok = (msg) => {
  passed += 1;
  console.log(`ok - ${msg}`);
};
const fail = (what, expected, seen) => {
  throw new CheckFailed(`${what}: expected ${expected}; saw ${seen}`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const plain = (s) => String(s).replace(/\x1b\[[0-9;]*m/g, '');
const show = (v) => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v));

// Polls `probe` until `accept(value)` is true; fails with the last value seen.
async function waitUntil(what, expected, probe, accept = Boolean, timeout = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (accept(last)) return last;
    } catch (e) {
      last = `error: ${plain(e.message.split('\n')[0])}`;
    }
    if (Date.now() > deadline) fail(what, `${expected} within ${timeout / 1000} s`, show(last));
    await sleep(100);
  }
}

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, name) });
}

// The transcript as the widget rendered it: author, server/local id, message text.
async function transcript() {
  return page.getByRole('log', { includeHidden: true }).evaluate((log) =>
    [...log.querySelectorAll('[data-author="bot"], [data-author="user"]')].map((m) => ({
      author: m.dataset.author,
      id: m.dataset.id,
      busy: m.getAttribute('aria-busy') === 'true',
      text: (m.querySelector('.text')?.textContent ?? '').trim(),
    })),
  );
}
const bots = (t) => t.filter((m) => m.author === 'bot');
const users = (t) => t.filter((m) => m.author === 'user');
const isFocused = (locator) => locator.evaluate((el) => el.getRootNode().activeElement === el);
async function storedSession() {
  return page.evaluate(() => {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k && k.startsWith('showroom:') && k.endsWith(':session')) return localStorage.getItem(k);
    }
    return null;
  });
}

// A new, finished, non-empty bot message beyond the first `count` ones.
function newBotReply(count) {
  return (t) => {
    const b = bots(t);
    return b.length > count && b.slice(count).every((m) => !m.busy && m.text.length > 0);
  };
}

async function run() {
  await fs.mkdir(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'es-CO' });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });

  // 1. The demo page loads and the widget's launcher is there.
  const res = await page.goto(`${BASE}/`, { waitUntil: 'load' });
  if (!res || res.status() !== 200) fail(`GET ${BASE}/`, 'status 200', res ? res.status() : 'no response');
  const launcher = page.getByRole('button', { name: 'Abrir chat', exact: true });
  await waitUntil('launcher button "Abrir chat"', 'a visible button', () => launcher.isVisible());
  const expanded0 = await launcher.getAttribute('aria-expanded');
  if (expanded0 !== 'false') fail('launcher aria-expanded before opening', '"false"', show(expanded0));
  ok('demo page loads and shows the "Abrir chat" launcher (aria-expanded=false)');

  // 2. Opening: panel visible, aria-expanded, focus in the input.
  await launcher.click();
  const dialog = page.getByRole('dialog');
  await waitUntil('chat panel (role=dialog)', 'visible after clicking the launcher', () => dialog.isVisible());
  const expanded1 = await launcher.getAttribute('aria-expanded');
  if (expanded1 !== 'true') fail('launcher aria-expanded after opening', '"true"', show(expanded1));
  const input = dialog.getByRole('textbox', { name: 'Escribe tu mensaje' });
  await waitUntil('focus after opening', 'the message input focused', () => isFocused(input));
  ok('launcher opens the panel (aria-expanded=true) and focuses the labelled input');

  // 3. Greeting.
  const greeting = await waitUntil('greeting', 'a finished bot message in the role=log transcript',
    transcript, newBotReply(0));
  const sendBtn = dialog.getByRole('button', { name: 'Enviar', exact: true });
  await waitUntil('send button', 'enabled once connected', () => sendBtn.isEnabled());
  ok(`greeting shown: ${show(bots(greeting)[0].text.slice(0, 60))}`);
  await shot('widget-greeting.png');

  // 4. First quick reply: echoed as the user's bubble, answered by a new bot message.
  const quick = page.getByRole('log').getByRole('group', { name: 'Respuestas rápidas' }).getByRole('button');
  await waitUntil('quick replies under the greeting', 'at least one enabled button',
    async () => (await quick.count()) > 0 && quick.first().isEnabled());
  const title = ((await quick.first().textContent()) ?? '').trim();
  const before = await transcript();
  await quick.first().click();
  const after = await waitUntil(`reply to quick reply ${show(title)}`,
    'a new finished bot message after the click', transcript, newBotReply(bots(before).length));
  const echo = users(after).slice(users(before).length);
  if (echo.length !== 1 || echo[0].text !== title) {
    fail('user bubble for the clicked quick reply', `one new user bubble ${show(title)}`,
      show(echo.map((m) => m.text)));
  }
  const echoAt = after.findIndex((m) => m.id === echo[0].id);
  const replyAt = after.findIndex((m) => m.id === bots(after)[bots(before).length].id);
  if (!(echoAt < replyAt)) fail('order of echo and reply', 'user bubble before the new bot message', `echo at ${echoAt}, reply at ${replyAt}`);
  const staleButtons = await page.getByRole('log').locator(`[data-id="${bots(before).at(-1).id}"]`)
    .getByRole('button').evaluateAll((bs) => bs.filter((b) => !b.disabled).length);
  if (staleButtons !== 0) fail('quick replies of the older message', 'hidden or disabled', `${staleButtons} still enabled`);
  ok(`quick reply ${show(title)} echoed as a user bubble, answered: ${show(bots(after).at(-1).text.slice(0, 60))}`);
  await shot('widget-after-click.png');

  // 5. Typing a message and pressing Enter.
  const typed = 'Hola, ¿tienen el <b>Urbano EV</b> en blanco?';
  await input.fill(typed);
  await input.press('Enter');
  const after2 = await waitUntil('reply to a typed message', 'a new finished bot message after Enter',
    transcript, newBotReply(bots(after).length));
  const mine = users(after2).at(-1);
  if (!mine || mine.text !== typed) fail('user bubble for the typed text', show(typed), show(mine && mine.text));
  const injected = await page.getByRole('log').locator(`[data-id="${mine.id}"] b`).count();
  if (injected !== 0) fail('user text rendering', 'plain text (no HTML elements)', `${injected} <b> element(s)`);
  const left = await input.inputValue();
  if (left !== '') fail('input after sending', 'empty', show(left));
  ok(`typed message sent with Enter, rendered as plain text, answered: ${show(bots(after2).at(-1).text.slice(0, 60))}`);

  // 6. Escape closes the panel and puts focus back on the launcher.
  await input.press('Escape');
  await waitUntil('panel after Escape', 'hidden', async () => !(await dialog.isVisible()));
  if ((await launcher.getAttribute('aria-expanded')) !== 'false') fail('aria-expanded after Escape', '"false"', await launcher.getAttribute('aria-expanded'));
  await waitUntil('focus after Escape', 'the launcher focused', () => isFocused(launcher));
  ok('Escape closes the panel and returns focus to the launcher');

  // 7. Reload: the transcript comes back and the session resumes (same token, no duplicates).
  const beforeReload = await transcript();
  const token = await storedSession();
  if (!token) fail('session token in localStorage', 'a showroom:<origin>:session entry', 'none');
  await page.reload({ waitUntil: 'domcontentloaded' });
  await launcher.click();
  await waitUntil('chat panel after reload', 'visible after clicking the launcher', () => dialog.isVisible());
  await waitUntil('send button after reload', 'enabled once reconnected', () => sendBtn.isEnabled());
  await sleep(800); // let any re-sent (undelivered) messages arrive
  const resumed = await transcript();
  const key = (m) => `${m.author}:${m.id}:${m.text}`;
  const prefixOk = beforeReload.every((m, i) => resumed[i] && key(resumed[i]) === key(m));
  if (!prefixOk) {
    fail('transcript after reload', `the ${beforeReload.length} earlier messages in order`,
      show(resumed.map((m) => `${m.author}: ${m.text.slice(0, 30)}`)));
  }
  const ids = resumed.map((m) => m.id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) fail('transcript after reload', 'each message once', `id ${show(dup)} rendered twice`);
  const token2 = await storedSession();
  if (token2 !== token) fail('session token after reload', show(token), show(token2));
  ok(`reload keeps the transcript (${resumed.length} messages, no duplicates) and resumes the same session`);

  // 8. Phone-sized screen: the open panel goes full-screen.
  await page.setViewportSize({ width: 390, height: 844 });
  const box = await waitUntil('panel on a 390x844 screen', 'full-screen (≈390x844 at 0,0)',
    () => dialog.boundingBox(),
    (b) => b && b.x <= 1 && b.y <= 1 && b.width >= 389 && b.height >= 843);
  await shot('widget-phone.png');
  ok(`phone-sized viewport: panel is full-screen (${Math.round(box.width)}x${Math.round(box.height)})`);

  if (pageErrors.length) fail('page errors', 'none', show(pageErrors));
  ok('no uncaught page errors');
}

async function finish(code, message) {
  if (finishing) return;
  finishing = true;
  if (code !== 0) {
    console.log(`not ok - ${message}`);
    for (const e of pageErrors) console.log(`# page error: ${e}`);
    for (const e of consoleErrors.slice(-5)) console.log(`# console error: ${e}`);
    if (page) {
      try {
        await fs.mkdir(SHOTS, { recursive: true });
        await page.screenshot({ path: path.join(SHOTS, 'widget-failure.png'), timeout: 5000 });
        console.log(`# screenshot: ${path.join(SHOTS, 'widget-failure.png')}`);
      } catch (e) {
        console.log(`# could not save widget-failure.png: ${e.message.split('\n')[0]}`);
      }
    }
  } else {
    console.log(`# all ${passed} widget checks passed`);
  }
  try {
    await Promise.race([browser?.close(), sleep(5000)]);
  } catch (_) { /* closing anyway */ }
  process.exit(code);
}

const overall = setTimeout(() => {
  finish(1, `overall timeout: the widget checks did not finish within ${OVERALL_TIMEOUT_MS / 1000} s (${passed} passed before)`);
}, OVERALL_TIMEOUT_MS);

try {
  await run();
  clearTimeout(overall);
  await finish(0);
} catch (e) {
  clearTimeout(overall);
  const msg = e instanceof CheckFailed
    ? e.message
    : `unexpected error: ${plain(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e)}`;
  await finish(1, msg);
}
