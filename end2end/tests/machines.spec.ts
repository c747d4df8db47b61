// The machines journey, with JavaScript on and off: an owner confirms it's them, creates an enrolment token on
// the Machines page (shown once, with the commands that use it), a machine made here with the real `openssl`
// enrols with it and renews its certificate over mutual TLS, the page shows where it was last seen, the owner
// revokes it, and its certificate renews nothing any more.
import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expectAccessible } from './a11y';
import { journey } from './journey';
import { BASE_URL, createTenant } from './server';

const OWNER_PASSWORD = 'copper-meadow-lantern-73';

/** A POST of a CSR to the API, optionally presenting a client certificate; resolves to status and body. */
function postCsr(
  apiPath: string,
  csr: Buffer,
  headers: Record<string, string>,
  identity?: { cert: string; key: Buffer },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${BASE_URL}${apiPath}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/pkcs10', ...headers },
        rejectUnauthorized: false, // the development certificate
        ...(identity ?? {}),
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(csr);
  });
}

/** A new P-256 key and a CSR for it, made by openssl in a fresh directory. */
function keyAndCsr(): { key: Buffer; csr: Buffer } {
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-machine-'));
  const key = path.join(dir, 'machine.key');
  const csr = path.join(dir, 'machine.csr');
  execFileSync('openssl', [
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-subj', '/CN=machine', '-out', csr,
  ], { stdio: 'ignore' });
  return { key: readFileSync(key), csr: readFileSync(csr) };
}

test('an owner enrols a machine with a one-time token and revokes it', async ({ page }, info) => {
  const js = info.project.name === 'javascript';
  const { ready, setPassword, signIn, nav } = journey(page, js);
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const email = `owner-${stamp}@machines.example`;
  const name = `build-${stamp}`;
  await setPassword(createTenant(`Machines ${info.project.name} ${stamp}`, email), OWNER_PASSWORD);
  await signIn(email, OWNER_PASSWORD);
  await expect(page).toHaveURL(/\/overview$/);
  await ready();
  await nav().getByRole('link', { name: 'Machines' }).click();
  await expect(page.getByRole('heading', { name: 'Machines', exact: true })).toBeVisible();
  await expect(page.getByText('No machine is enrolled yet.')).toBeVisible();
  await expectAccessible(page);

  await page.goto('/confirm-access?next=/settings/machines');
  await ready();
  const confirm = page.getByRole('form', { name: "Confirm it's you" });
  await confirm.getByLabel('Your password', { exact: true }).fill(OWNER_PASSWORD);
  await confirm.getByRole('button', { name: 'Confirm' }).click();
  await expect(page).toHaveURL(/\/settings\/machines$/);

  // The token, shown once with the commands that use it.
  await ready();
  const form = page.getByRole('form', { name: 'Create an enrolment token' });
  await form.getByLabel('Machine name').fill(name);
  await form.getByLabel(/^Certificate validity/).fill('30');
  await form.getByRole('button', { name: 'Create enrolment token' }).click();
  await expect(page).toHaveURL(/\/settings\/machines\?created=1$/);
  const token = (await page.getByTestId('machine-token').textContent()) ?? '';
  expect(token).toMatch(/^rmp_enrol_[A-Za-z0-9]{40}$/);
  await expect(page.getByText(`ENROL_TOKEN='${token}'`)).toBeVisible();
  await expect(page.getByRole('table', { name: 'Enrolment tokens' })).toContainText(name);
  await expect(page.getByRole('link', { name: 'Download the CA certificate' })).toBeVisible();
  await expectAccessible(page);
  await page.goto('/settings/machines');
  await expect(page.getByTestId('machine-token')).toHaveCount(0);

  // The machine enrols with it (once) and renews over mutual TLS.
  const { key, csr } = keyAndCsr();
  const enrolled = await postCsr('/api/v1/machines/enrol', csr, { authorization: `Bearer ${token}` });
  expect(enrolled.status).toBe(201);
  expect(enrolled.body.match(/BEGIN CERTIFICATE/g)?.length).toBe(2);
  expect((await postCsr('/api/v1/machines/enrol', csr, { authorization: `Bearer ${token}` })).status).toBe(401);
  const identity = { cert: enrolled.body, key };
  const renewed = await postCsr('/api/v1/machines/renew', csr, {}, identity);
  expect(renewed.status).toBe(201);

  // The page lists it, seen from this address; the owner revokes it.
  await page.reload();
  await ready();
  const machines = page.getByRole('table', { name: 'Machines' });
  await expect(machines).toContainText(name);
  await expect(machines).toContainText('127.0.0.1');
  await expect(machines).toContainText('active');
  await expect(page.getByText('No token is waiting.')).toBeVisible();
  await machines.getByRole('button', { name: `Revoke the machine ${name}` }).click();
  await expect(page).toHaveURL(/\/settings\/machines\?revoked=1$/);
  await expect(page.getByRole('status').filter({ hasText: 'The machine was revoked' })).toBeVisible();
  await expect(page.getByRole('table', { name: 'Machines' })).toContainText(/revoked .* by owner-/);
  await expectAccessible(page);

  // Its certificates open nothing any more, the renewed one included.
  expect((await postCsr('/api/v1/machines/renew', csr, {}, identity)).status).toBe(401);
  expect((await postCsr('/api/v1/machines/renew', csr, {}, { cert: renewed.body, key })).status).toBe(401);
});
