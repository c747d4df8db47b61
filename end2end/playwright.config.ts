import { defineConfig } from '@playwright/test';
import { e2eEnv, BASE_URL } from './tests/server';

// Debian's Chromium, never a downloaded browser. The server is the real release binary over real TLS, with
// a throwaway data directory; `make test` builds it and passes its path in RAMPART_BIN.
const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

export default defineConfig({
  testDir: './tests',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: true,
  reporter: [['list']],
  timeout: 60_000,
  use: {
    baseURL: BASE_URL,
    ignoreHTTPSErrors: true, // the self-signed development certificate
    trace: 'retain-on-failure',
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: chromiumArgs },
  },
  projects: [
    { name: 'javascript', use: { javaScriptEnabled: true } },
    { name: 'no-javascript', use: { javaScriptEnabled: false } },
  ],
  webServer: {
    command: `${process.env.RAMPART_BIN} serve`,
    url: `${BASE_URL}/healthz`,
    ignoreHTTPSErrors: true,
    reuseExistingServer: false,
    timeout: 60_000,
    env: e2eEnv,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
