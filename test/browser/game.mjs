// Browser test of the game page: two pages take the seats; a page in
// another browser context (its own localStorage) that uses ann's name only
// watches; ann's page, reloaded, gets her seat back with the token it kept,
// and plays. Run from the repository root:
//   node test/browser/game.mjs build/examples/server
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const serverBin = process.argv[2] ?? 'build/examples/server';
const dataDir = mkdtempSync(join(tmpdir(), 'troupe-browser-game-'));
const deadline = setTimeout(() => fail('the game browser test took longer than 60 s'), 60_000);
let server, browser;

function fail(message) {
  console.error('game browser test FAILED: ' + message);
  cleanup().finally(() => process.exit(1));
}

async function cleanup() {
  clearTimeout(deadline);
  if (browser) await browser.close().catch(() => {});
  if (server && server.exitCode === null) server.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer(port) {
  server = spawn(serverBin, [`--port=${port}`, `--data-dir=${dataDir}`, '--log=quiet'],
                 { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the server did not come up');
}

// Opens the game page and joins game `game` as `nick`; waits for `role`.
async function joinGame(page, port, nick, role) {
  await page.goto(`http://127.0.0.1:${port}/static/game.html`);
  await page.fill('#game', 'browser-game');
  await page.fill('#nick', nick);
  await page.click('#join');
  await page.locator('#role', { hasText: new RegExp('^' + role + '$') }).waitFor({ timeout: 10_000 });
}

try {
  const port = await freePort();
  await startServer(port);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const annContext = await browser.newContext();
  const ann = await annContext.newPage();
  const bob = await (await browser.newContext()).newPage();
  await joinGame(ann, port, 'ann', 'x');
  await joinGame(bob, port, 'bob', 'o');

  // Someone else calling themselves ann, without her token: a spectator, told why.
  const impostor = await (await browser.newContext()).newPage();
  await joinGame(impostor, port, 'ann', 'spectator');
  await impostor.locator('#error', { hasText: /needs its token/ }).waitFor({ timeout: 10_000 });

  // Ann's page reloads (the same browser storage): her seat comes back, and she plays.
  await ann.close();
  const again = await annContext.newPage();
  await joinGame(again, port, 'ann', 'x');
  await again.locator('#board button').nth(4).click();
  await bob.locator('#board button').nth(4).filter({ hasText: 'x' }).waitFor({ timeout: 10_000 });
  await impostor.locator('#board button').nth(4).filter({ hasText: 'x' }).waitFor({ timeout: 10_000 });
  await cleanup();
  console.log('game browser test: 1 passed, 0 failed');
} catch (e) {
  fail(e.message);
}
