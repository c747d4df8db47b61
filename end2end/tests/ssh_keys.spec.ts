// The SSH keys journey, with JavaScript on and off: an owner links a GitHub account (a stand-in GitHub on
// loopback that this test runs: no test reaches the internet), sees its key with the fingerprint `ssh-keygen -lf`
// prints, pastes a second key, is refused a short RSA key with the reason, and removes a key; a member with
// two-factor authentication confirms it's them and gets a short-lived certificate to download, with the
// `sftp` line to use it.
import { expect, test } from '@playwright/test';
import { Secret, TOTP } from 'otpauth';
import { createServer, type Server } from 'node:http';
import { expectAccessible } from './a11y';
import { journey } from './journey';
import { createTenant, GITHUB_STAND_IN_PORT } from './server';

const OWNER_PASSWORD = 'granite-heron-orchard-64';
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhIhVlBJZKJIZhLVpeRnKGKANYDD02Lkze4k+cCAnOS octo@laptop';
const ED25519_FP = 'SHA256:EJGlsdSu6zLAYmxiZ00LbMnSyIAzXx6d69ETbWnbiXw';
const ECDSA =
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEo3BHOHwBjx7p68F3OYSz6+V+y6qEDcr/hiSMO+qyTSZSBfSB6BG8t6EtJPh27S/X9jzBkaFhXsHU9rf4KcRKU= work';
const ECDSA_FP = 'SHA256:wuOnBmuWNaj/p2dv/qvu1/3tvm1ju3TxmkkO+PCJ6TU';
const RSA_2048 =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCpG9d1OjjMKhFbB3kt2/NlM4xybM7t8bJqSToIq+sq7poIFTCJ+v21RXOiYsPsHl2r0/2cSU8O24J3RKZG+KrzexBAnNOaF0xzWDniSUGYgQX6bRwI25jcwwxvpFQzxhilHUUCPO5JcmnoD+74MFqg6ce3IwuuuXD8cJmyW5z3Y2BRwEYOq5HWrv7JrRn8mc3g/Jt1YDgcPdlFka1tCLpusr1OzT2xHMsg0j73M8hjxnPX+ErkrwXHCJqVxrjadHamGmuX2CnlV1nAhmApSiz/AIP0BGQ5ClvqqTs/Gtqm3uThcXbgtZMUqGK5efXGCoEn67HZs60Hk2OugDIWm3of';

let standIn: Server;

test.beforeAll(async () => {
  standIn = createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/e2e-octo.keys') {
      res.writeHead(200, { 'content-type': 'text/plain', etag: '"v1"' });
      res.end(`${ED25519}\n`);
    } else if (url === '/users/e2e-octo/keys') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify([{ id: 101, key: ED25519.split(' ').slice(0, 2).join(' ') }]));
    } else if (url === '/users/e2e-octo') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ login: 'e2e-octo', id: 4242 }));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((ok) => standIn.listen(Number(GITHUB_STAND_IN_PORT), '127.0.0.1', ok));
});

test.afterAll(async () => {
  await new Promise<void>((ok) => standIn.close(() => ok()));
});

test('a member links GitHub, pastes a key, is told why a weak one is refused, and removes one', async ({ page }, info) => {
  const js = info.project.name === 'javascript';
  const { ready, setPassword, signIn, nav } = journey(page, js);
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const email = `owner-${stamp}@ssh.example`;
  await setPassword(createTenant(`SSH ${info.project.name} ${stamp}`, email), OWNER_PASSWORD);
  await signIn(email, OWNER_PASSWORD);
  await expect(page).toHaveURL(/\/overview$/);
  await ready();
  await nav().getByRole('link', { name: 'SSH keys' }).click();
  await expect(page.getByRole('heading', { name: 'SSH keys', exact: true })).toBeVisible();

  // GitHub: linked and read at once.
  await ready();
  const link = page.getByRole('form', { name: 'Link a GitHub account' });
  await link.getByLabel('GitHub user name').fill('e2e-octo');
  await link.getByRole('button', { name: 'Link and read the keys' }).click();
  await expect(page).toHaveURL(/\/ssh-keys\?linked=1$/);
  const table = page.getByRole('table', { name: 'SSH keys' });
  await expect(table).toContainText(ED25519_FP);
  await expect(table).toContainText('GitHub');
  await expect(page.getByText('Linked to GitHub user')).toContainText('e2e-octo');

  // A short RSA key is refused, saying why; nothing is added.
  await ready();
  const add = page.getByRole('form', { name: 'Add a key' });
  await add.getByLabel(/Public key/).fill(RSA_2048);
  await add.getByRole('button', { name: 'Add key' }).click();
  await expect(page.getByRole('alert').filter({ hasText: '3072' })).toBeVisible();
  await expect(page.getByRole('table', { name: 'SSH keys' }).getByRole('row')).toHaveCount(2);

  // A pasted ECDSA key.
  await ready();
  await page.getByRole('form', { name: 'Add a key' }).getByLabel(/Public key/).fill(ECDSA);
  await page.getByRole('form', { name: 'Add a key' }).getByRole('button', { name: 'Add key' }).click();
  await expect(page).toHaveURL(/\/ssh-keys\?added=1$/);
  await expect(page.getByRole('table', { name: 'SSH keys' })).toContainText(ECDSA_FP);
  await expectAccessible(page);

  // Removed.
  await ready();
  await page.getByRole('button', { name: `Remove the key ${ECDSA_FP}` }).click();
  await expect(page).toHaveURL(/\/ssh-keys\?removed=1$/);
  await expect(page.getByRole('table', { name: 'SSH keys' })).not.toContainText(ECDSA_FP);
  await expect(page.getByRole('table', { name: 'SSH keys' })).toContainText(ED25519_FP);
});

test('a member confirms with a code and downloads a short-lived certificate with the sftp line', async ({ page }, info) => {
  const js = info.project.name === 'javascript';
  const { ready, setPassword, signIn } = journey(page, js);
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const email = `cert-${stamp}@ssh.example`;
  await setPassword(createTenant(`Certs ${info.project.name} ${stamp}`, email), OWNER_PASSWORD);
  await signIn(email, OWNER_PASSWORD);
  await expect(page).toHaveURL(/\/overview$/);

  // Two-factor on, as an authenticator app would.
  await ready();
  await page.goto('/two-factor/setup');
  await ready();
  const shown = (await page.getByTestId('totp-secret').textContent()) ?? '';
  const app = new TOTP({ secret: Secret.fromBase32(shown.replace(/\s+/g, '')), algorithm: 'SHA1', digits: 6, period: 30 });
  await page.getByLabel('Code from the app').fill(app.generate());
  await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
  await expect(page).toHaveURL(/\/two-factor\/recovery-codes$/);

  // Confirm it's them with the password and the next step's code, then issue.
  await page.goto('/confirm-access?next=/ssh-keys');
  await ready();
  const confirm = page.getByRole('form', { name: "Confirm it's you" });
  await confirm.getByLabel('Your password', { exact: true }).fill(OWNER_PASSWORD);
  await confirm.getByLabel('Authentication code').fill(app.generate({ timestamp: Date.now() + 30_000 }));
  await confirm.getByRole('button', { name: 'Confirm' }).click();
  await expect(page).toHaveURL(/\/ssh-keys$/);
  await expect(page.getByRole('heading', { name: 'SSH keys', exact: true })).toBeVisible();
  await ready();
  const issue = page.getByRole('form', { name: 'Issue a certificate' });
  await issue.getByLabel('Public key to certify').fill(ED25519);
  await issue.getByRole('button', { name: 'Issue certificate' }).click();
  await expect(page).toHaveURL(/\/ssh-keys\?certificate=1$/);
  await expect(page.getByRole('status').filter({ hasText: 'Your certificate is ready' })).toBeVisible();

  // The download is the certificate line; the page shows the one sftp line that uses it and the host key.
  const download = page.getByRole('link', { name: 'Download certificate 1' });
  const href = (await download.getAttribute('href')) ?? '';
  const line = decodeURIComponent(href.slice(href.indexOf(',') + 1));
  expect(line).toMatch(/^ssh-ed25519-cert-v01@openssh\.com AAAA/);
  await expect(download).toHaveAttribute('download', 'id-cert.pub');
  const sftp = page.getByRole('region', { name: 'SFTP' });
  await expect(sftp.getByLabel('SFTP command with a certificate')).toContainText('-o CertificateFile=');
  await expect(sftp.getByLabel('SFTP command with a certificate')).toContainText(`-o User=${email}@certs-`);
  await expect(sftp).toContainText(/SHA256:[A-Za-z0-9+/]{43}/);
  await expect(sftp.getByRole('heading', { name: 'Live sessions' })).toBeVisible();
  await expectAccessible(page);
});
