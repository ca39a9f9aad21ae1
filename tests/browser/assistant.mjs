#!/usr/bin/env node
// The assistant in the embeddable widget, in Debian's headless Chromium, on embedded
// defaults (no LLM): a spec question gets the figure with its source listed under the
// answer, an unknown question gets "No tengo ese dato" with the advisor offer, and a
// test-drive request lands in the flow with model, branch and day filled in.
//
//   node tests/browser/assistant.mjs <baseUrl> <screenshotDir>
//
// Prints `ok - ...` per step; on failure `not ok - ...`, saves
// <screenshotDir>/assistant-failure.png and exits 1.

import { chromium } from 'playwright-core';
import fs from 'node:fs/promises';
import path from 'node:path';

const STEP_TIMEOUT_MS = 15_000;
const [baseArg, shotArg] = process.argv.slice(2);
if (!baseArg || !shotArg) {
  console.error('usage: node tests/browser/assistant.mjs <baseUrl> <screenshotDir>');
  process.exit(2);
}
const BASE = baseArg.replace(/\/+$/, '');
const SHOTS = path.resolve(shotArg);

let browser = null;
let page = null;

async function transcript() {
  return page.getByRole('log').evaluate((log) => log.textContent || '');
}

async function expectText(text) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if ((await transcript()).includes(text)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`expected the chat to show ${JSON.stringify(text)}; it shows ${JSON.stringify((await transcript()).slice(-400))}`);
}

async function type(text) {
  const input = page.getByRole('dialog').getByRole('textbox', { name: 'Escribe tu mensaje' });
  await input.fill(text);
  await input.press('Enter');
  console.log(`ok - typed ${JSON.stringify(text)}`);
}

async function run() {
  await fs.mkdir(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'es-CO' });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  await page.goto(`${BASE}/`, { waitUntil: 'load' });
  await page.getByRole('button', { name: 'Abrir chat', exact: true }).click();
  await expectText('¿En qué te puedo ayudar?');

  await type('¿cuánto rinde la tiguan en carretera?');
  await expectText('13 km/l');
  const sources = page.getByRole('log').getByRole('list', { name: 'Fuentes' }).last();
  await sources.waitFor({ state: 'visible' });
  const listed = ((await sources.textContent()) ?? '').trim();
  if (!listed.includes('Tiguan')) throw new Error(`the sources list shows ${JSON.stringify(listed)}`);
  console.log(`ok - answered with the figure, sources: ${JSON.stringify(listed)}`);
  await page.screenshot({ path: path.join(SHOTS, 'widget-assistant-answer.png') });

  await type('¿el tiguan trae nevera portátil en el baúl?');
  await expectText('No tengo ese dato');
  await page.getByRole('log').getByRole('button', { name: 'Sí, hablar con un asesor' }).last().waitFor({ state: 'visible' });
  console.log('ok - unknown question: "No tengo ese dato" with the advisor button');
  await page.screenshot({ path: path.join(SHOTS, 'widget-assistant-no-data.png') });

  await type('quiero probar el Tiguan el sábado en la sede norte');
  await expectText('¿A qué hora?');
  console.log('ok - the test-drive flow asks for the time: model, branch and day were filled in');
  await page.screenshot({ path: path.join(SHOTS, 'widget-assistant-intent.png') });
}

try {
  await run();
  await browser.close();
  console.log('# assistant answered in the widget');
  process.exit(0);
} catch (e) {
  console.log(`not ok - ${e.message.split('\n')[0]}`);
  try {
    await page?.screenshot({ path: path.join(SHOTS, 'assistant-failure.png'), timeout: 5000 });
  } catch (_) { /* best effort */ }
  await browser?.close().catch(() => {});
  process.exit(1);
}
