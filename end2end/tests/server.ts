// How the tests reach the server under test and its operator CLI.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const port = process.env.E2E_PORT ?? '18443';
export const BASE_URL = `https://127.0.0.1:${port}`;

// One data directory per Playwright run; the config module is evaluated in the runner and in each worker,
// so the directory is created once and handed down through the environment.
if (!process.env.RAMPART_E2E_DATA) {
  process.env.RAMPART_E2E_DATA = mkdtempSync(path.join(tmpdir(), 'rampart-e2e-'));
}
const data = process.env.RAMPART_E2E_DATA;

export const e2eEnv: Record<string, string> = {
  RAMPART_DATA_DIR: data,
  RAMPART_DATABASE_URL: `sqlite://${data}/rampart.db`,
  RAMPART_LISTEN_ADDR: `127.0.0.1:${port}`,
  RAMPART_REDIRECT_ADDR: `127.0.0.1:${Number(port) + 1}`,
  RAMPART_PUBLIC_URL: BASE_URL,
  RAMPART_SITE_ROOT: process.env.RAMPART_SITE_ROOT ?? path.resolve(__dirname, '../../target/site'),
  RAMPART_DEMO_OWNER_EMAIL: 'demo-owner@e2e.example',
  RAMPART_LOG: 'warn',
};

/** Creates a tenant with the operator CLI and returns its owner's one-time setup link. */
export function createTenant(name: string, owner: string): string {
  const bin = process.env.RAMPART_BIN;
  if (!bin) throw new Error('RAMPART_BIN is not set (run through `make test`)');
  const out = execFileSync(bin, ['tenant', 'create', '--name', name, '--owner', owner], {
    env: { ...process.env, ...e2eEnv },
    encoding: 'utf8',
  });
  const link = out.split('\n').map((l) => l.trim()).find((l) => l.includes('/setup/'));
  if (!link) throw new Error(`no setup link in: ${out}`);
  return link;
}
