import { defineConfig } from '@playwright/test';
import base from './playwright.config';

// `make screenshots`: the same server and browser as the tests, one JavaScript-enabled run of the script in
// screenshots/, which writes PNGs to docs/screenshots/. Not part of `make test`.
export default defineConfig({
  ...base,
  testDir: './screenshots',
  timeout: 300_000,
  projects: [{ name: 'screenshots', use: { javaScriptEnabled: true } }],
});
