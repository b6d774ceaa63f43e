// Browser test: two Chromium pages chat through the example server; the
// room is crashed (the page that crashed it reconnects, the other stays
// connected, history intact); the server
// process is restarted (the pages reconnect, history restored). Saves a
// screenshot to build/browser-chat.png. Run from the repository root:
//   node test/browser/chat.mjs build/examples/server
import { browserTest } from './harness.mjs';

const t = browserTest({ name: 'browser test', limitMs: 90000, serverArgs: ['--demo-faults'] });
const { fail, cleanup, freePort, startServer, stopServer } = t;

async function joinRoom(page, port, nick) {
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.fill('#room', 'browser-test');
  await page.fill('#nick', nick);
  await page.click('#join');
  await page.locator('#chat-state', { hasText: /^connected$/ }).waitFor({ timeout: 10_000 });
}

async function say(page, text) {
  await page.fill('#say', text);
  await page.press('#say', 'Enter');
}

const seen = (page, text) =>
  page.locator('#log .message', { hasText: text }).waitFor({ timeout: 10_000 });

try {
  const port = await freePort();
  await startServer(port);
  const browser = await t.launchBrowser();
  const ann = await browser.newPage();
  const bob = await browser.newPage();
  await joinRoom(ann, port, "ann");
  await joinRoom(bob, port, "bob");

  // 1. A message typed in one page appears in the other.
  await say(ann, 'hello from ann');
  await seen(bob, 'hello from ann');

  // 2. Ann crashes the room: her request was lost with it, so her socket is
  // closed (1011) and her page reconnects; Bob's page stays connected; the
  // history is intact for both.
  const closesBefore = await Promise.all([ann, bob].map((p) => p.evaluate(() => window.troupeCloses || 0)));
  await ann.click('#crash');
  await say(bob, 'after the crash');
  await seen(ann, 'after the crash');
  await seen(bob, 'hello from ann');
  const closesAfter = await Promise.all([ann, bob].map((p) => p.evaluate(() => window.troupeCloses || 0)));
  if (closesAfter[1] !== closesBefore[1]) throw new Error("bob's page lost its connection in the crash");
  if (closesAfter[0] !== closesBefore[0] + 1) throw new Error("ann's page was not told that her request crashed the room");
  await ann.locator('#chat-state', { hasText: /^connected$/ }).waitFor({ timeout: 15_000 });

  // 3. The server process restarts: the pages reconnect, the history is restored.
  await stopServer();
  await ann.locator('#chat-state', { hasText: /reconnecting/ }).waitFor({ timeout: 10_000 });
  await startServer(port);
  for (const page of [ann, bob]) {
    await page.locator('#chat-state', { hasText: /^connected$/ }).waitFor({ timeout: 15_000 });
    await seen(page, 'hello from ann');
    await seen(page, 'after the crash');
  }
  await ann.screenshot({ path: 'build/browser-chat.png', fullPage: true });
  await stopServer();
  await cleanup();
  console.log('browser test: 1 passed, 0 failed');
} catch (e) {
  fail(e.message);
}
