// How the tests reach the server under test and its operator CLI.
import { expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const port = process.env.E2E_PORT ?? '18443';
export const BASE_URL = `https://127.0.0.1:${port}`;
/** Where the SSH keys journey runs its stand-in GitHub (plain HTTP on loopback). */
export const GITHUB_STAND_IN_PORT = `${Number(port) + 7}`;
/** Where the webhooks journey runs its receiver (plain HTTP on loopback, allowed for tests only). */
export const WEBHOOK_RECEIVER_PORT = `${Number(port) + 9}`;

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
  RAMPART_METRICS_ADDR: 'off',
  RAMPART_SFTP_ADDR: `127.0.0.1:${Number(port) + 8}`,
  RAMPART_PUBLIC_URL: BASE_URL,
  RAMPART_SITE_ROOT: process.env.RAMPART_SITE_ROOT ?? path.resolve(__dirname, '../../target/site'),
  RAMPART_DEMO_OWNER_EMAIL: 'demo-owner@e2e.example',
  RAMPART_LOG: 'warn',
  RAMPART_GITHUB_BASE_URL: `http://127.0.0.1:${Number(port) + 7}`,
  RAMPART_GITHUB_API_URL: `http://127.0.0.1:${Number(port) + 7}`,
  RAMPART_WEBHOOK_ALLOW_LOOPBACK: 'true',
};

/** Runs the operator CLI against the test server's database and returns what it printed. */
function rampart(...args: string[]): string {
  const bin = process.env.RAMPART_BIN;
  if (!bin) throw new Error('RAMPART_BIN is not set (run through `make test`)');
  return execFileSync(bin, args, { env: { ...process.env, ...e2eEnv }, encoding: 'utf8' });
}

/** The one-time setup link the CLI printed. */
function setupLinkIn(out: string): string {
  const link = out.split('\n').map((l) => l.trim()).find((l) => l.includes('/setup/'));
  if (!link) throw new Error(`no setup link in: ${out}`);
  return link;
}

/** Creates a tenant with the operator CLI and returns its owner's one-time setup link. */
export function createTenant(name: string, owner: string): string {
  return setupLinkIn(rampart('tenant', 'create', '--name', name, '--owner', owner));
}

/** Adds a new account to a tenant (by name or id) with the operator CLI and returns its one-time setup link. */
export function addMember(tenant: string, email: string, role = 'member'): string {
  return setupLinkIn(rampart('tenant', 'add-member', '--tenant', tenant, '--email', email, '--role', role));
}

/** Adds an account that already exists to another tenant (by name or id) with the given role. */
export function addExistingAccount(tenant: string, email: string, role = 'member'): void {
  const out = rampart('tenant', 'add-member', '--tenant', tenant, '--email', email, '--role', role);
  if (!out.includes('The account exists')) throw new Error(`not an existing account: ${out}`);
}

/** A raw RFC 5322 message made readable: quoted-printable soft breaks and `=3D` undone, headers unfolded. */
function readable(raw: string): string {
  return raw
    .replace(/=\r?\n/g, '')
    .replace(/=3D/gi, '=')
    .replace(/\r?\n([ \t])/g, '$1');
}

/**
 * Waits for the server to write a message for `to` that contains `needle` into its outbox (no SMTP server is
 * configured in the tests) and returns the newest such message, readable.
 */
export async function readOutbox(to: string, needle: string): Promise<string> {
  const dir = path.join(data, 'outbox');
  let found: string | undefined;
  await expect
    .poll(
      () => {
        let names: string[];
        try {
          names = readdirSync(dir).filter((n) => n.endsWith('.eml')).sort().reverse();
        } catch {
          return false; // no message written yet
        }
        found = names
          .map((n) => readable(readFileSync(path.join(dir, n), 'utf8')))
          .find((m) => m.includes(to) && m.includes(needle));
        return found !== undefined;
      },
      { message: `an email to ${to} containing "${needle}" in ${dir}`, timeout: 15_000 },
    )
    .toBe(true);
  return found as string;
}

/** A platform operator asks a tenant (by name) for support access with the CLI; returns the request's id. */
export function requestSupport(tenant: string, operator: string, reason: string, hours = 4): string {
  const out = rampart('support', 'request', '--tenant', tenant, '--operator', operator, '--reason', reason, '--hours', `${hours}`);
  const id = out.match(/Support request (\S+) waits/);
  if (!id) throw new Error(`no request id in: ${out}`);
  return id[1];
}

/** The one-time support link of an approved request, as the CLI prints it. */
export function openSupport(id: string): string {
  const out = rampart('support', 'open', '--request', id);
  const link = out.split('\n').map((l) => l.trim()).find((l) => l.includes('/support/'));
  if (!link) throw new Error(`no support link in: ${out}`);
  return link;
}
