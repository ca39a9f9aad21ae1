#!/usr/bin/env node
// A customer books a test drive through the embeddable widget in Debian's headless
// Chromium, with the shipped flows, pressing the buttons and typing like a person:
//
//   node tests/browser/test_drive.mjs <baseUrl> <screenshotDir>
//
// Prints `ok - ...` per step; on failure `not ok - ...`, saves
// <screenshotDir>/test-drive-failure.png and exits 1.

import { chromium } from 'playwright-core';
import fs from 'node:fs/promises';
import path from 'node:path';

const STEP_TIMEOUT_MS = 15_000;
const [baseArg, shotArg] = process.argv.slice(2);
if (!baseArg || !shotArg) {
  console.error('usage: node tests/browser/test_drive.mjs <baseUrl> <screenshotDir>');
  process.exit(2);
}
const BASE = baseArg.replace(/\/+$/, '');
const SHOTS = path.resolve(shotArg);

let browser = null;
let page = null;

async function lastBotText() {
  return page.getByRole('log').evaluate((log) => log.textContent || '');
}

// Waits until the transcript contains `text`.
async function expectText(text) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if ((await lastBotText()).includes(text)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`expected the chat to show ${JSON.stringify(text)}; it shows ${JSON.stringify((await lastBotText()).slice(-300))}`);
}

// The enabled quick-reply buttons under the last bot message.
function quickReplies() {
  return page.getByRole('log').getByRole('group', { name: 'Respuestas rápidas' }).getByRole('button');
}

async function press(name) {
  const button = name === null ? quickReplies().first() : quickReplies().filter({ hasText: name }).first();
  await button.waitFor({ state: 'visible' });
  const title = ((await button.textContent()) ?? '').trim();
  await button.click();
  console.log(`ok - pressed ${JSON.stringify(title)}`);
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
  await press('Prueba de manejo');
  await expectText('¿Qué modelo quieres manejar?');
  await press('Tiguan');
  await expectText('¿En qué sede quieres probar el Tiguan?');
  await press('Sede Norte');
  await expectText('¿Qué día te queda bien?');
  await press(null); // the first free day
  await expectText('¿A qué hora?');
  await press(null); // the first free time
  // Consent comes first: nothing personal is asked before the customer agrees.
  await expectText('¿Nos autorizas?');
  await press('Sí, autorizo');
  await expectText('¿Cómo te llamas?');
  await type('Ana María Gómez');
  await expectText('¿A qué número de celular te podemos contactar?');
  await type('300 123 4567');
  await expectText('Confirmemos: prueba de manejo del Tiguan en Sede Norte');
  await press('Sí, agendar');
  await expectText('Tu prueba de manejo quedó agendada.');
  await expectText('Código: PM-');
  console.log('ok - the confirmation shows the booking code');
  await page.screenshot({ path: path.join(SHOTS, 'widget-test-drive.png') });
}

try {
  await run();
  await browser.close();
  console.log('# test drive booked through the widget');
  process.exit(0);
} catch (e) {
  console.log(`not ok - ${e.message.split('\n')[0]}`);
  try {
    await page?.screenshot({ path: path.join(SHOTS, 'test-drive-failure.png'), timeout: 5000 });
  } catch (_) { /* best effort */ }
  await browser?.close().catch(() => {});
  process.exit(1);
}
