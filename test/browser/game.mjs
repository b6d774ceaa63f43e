// Browser test of the game page: two pages take the seats; a page in
// another browser context (its own localStorage) that uses ann's name only
// watches; ann's page, reloaded, gets her seat back with the token it kept,
// and plays. Run from the repository root:
//   node test/browser/game.mjs build/examples/server
import { browserTest } from './harness.mjs';

const t = browserTest({ name: 'game browser test', limitMs: 60000, serverArgs: [] });
const { fail, cleanup, freePort, startServer } = t;

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
  const browser = await t.launchBrowser();
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
