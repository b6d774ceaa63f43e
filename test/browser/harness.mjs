// What the browser tests share: the example server in a temporary data
// directory on a free loopback port, Debian's Chromium, a deadline, and a
// cleanup that leaves nothing behind.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// `name` labels the test's messages; `serverArgs` are added to the server's.
export function browserTest({ name, limitMs, serverArgs = [] }) {
  const serverBin = process.argv[2] ?? 'build/examples/server';
  const dataDir = mkdtempSync(join(tmpdir(), 'troupe-browser-'));
  const deadline = setTimeout(() => t.fail(`the ${name} took longer than ${limitMs / 1000} s`), limitMs);
  let server, browser;

  const t = {
    fail(message) {
      console.error(`${name} FAILED: ${message}`);
      t.cleanup().finally(() => process.exit(1));
    },
    async cleanup() {
      clearTimeout(deadline);
      if (browser) await browser.close().catch(() => {});
      if (server && server.exitCode === null) server.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    },
    freePort() {
      return new Promise((resolve) => {
        const s = createServer();
        s.listen(0, '127.0.0.1', () => {
          const { port } = s.address();
          s.close(() => resolve(port));
        });
      });
    },
    // Ready when /healthz answers.
    async startServer(port) {
      server = spawn(serverBin, [`--port=${port}`, `--data-dir=${dataDir}`, '--log=quiet', ...serverArgs],
                     { stdio: ['ignore', 'ignore', 'inherit'] });
      for (let i = 0; i < 100; i++) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/healthz`);
          if (r.ok) return;
        } catch {}
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('the server did not come up');
    },
    async stopServer() {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGINT');
      await exited;
    },
    async launchBrowser() {
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
               '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      return browser;
    },
  };
  return t;
}
