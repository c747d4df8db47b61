// The webhooks journey, with JavaScript on and off: an owner confirms it's them, adds an endpoint (a receiver on
// loopback that this test runs), sees its secret once, sees a signed delivery arrive and the page report it,
// sends a test event, finds it on the endpoint's deliveries page and sends it again, gives the endpoint a new
// secret and removes it.
import { expect, test } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { expectAccessible } from './a11y';
import { journey } from './journey';
import { createTenant, WEBHOOK_RECEIVER_PORT } from './server';

const OWNER_PASSWORD = 'granite-falcon-harbour-58';
const received: { headers: Record<string, string>; body: string }[] = [];
let receiver: Server;

test.beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers as Record<string, string>, body });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('thanks');
    });
  });
  await new Promise<void>((ok) => receiver.listen(Number(WEBHOOK_RECEIVER_PORT), '127.0.0.1', ok));
});

test.afterAll(async () => {
  await new Promise<void>((ok) => receiver.close(() => ok()));
});

/** Whether a delivery's signature verifies with `secret` (Standard Webhooks: HMAC-SHA256 of id.timestamp.body). */
function verifies(secret: string, d: { headers: Record<string, string>; body: string }): boolean {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const msg = `${d.headers['webhook-id']}.${d.headers['webhook-timestamp']}.${d.body}`;
  const good = `v1,${createHmac('sha256', key).update(msg).digest('base64')}`;
  return d.headers['webhook-signature'].split(' ').includes(good);
}

test('an owner adds a webhook endpoint, gets a signed delivery, rotates its secret and removes it', async ({ page }, info) => {
  const js = info.project.name === 'javascript';
  const { ready, setPassword, signIn, nav } = journey(page, js);
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const email = `owner-${stamp}@hooks.example`;
  await setPassword(createTenant(`Hooks ${info.project.name} ${stamp}`, email), OWNER_PASSWORD);
  await signIn(email, OWNER_PASSWORD);
  await expect(page).toHaveURL(/\/overview$/);
  await ready();
  await nav().getByRole('link', { name: 'Webhooks' }).click();
  await expect(page.getByRole('heading', { name: 'Webhooks', exact: true })).toBeVisible();
  await expectAccessible(page);

  await page.goto('/confirm-access?next=/settings/webhooks');
  await ready();
  const confirm = page.getByRole('form', { name: "Confirm it's you" });
  await confirm.getByLabel('Your password', { exact: true }).fill(OWNER_PASSWORD);
  await confirm.getByRole('button', { name: 'Confirm' }).click();
  await expect(page).toHaveURL(/\/settings\/webhooks$/);

  // Added: the secret is shown once.
  const url = `http://127.0.0.1:${WEBHOOK_RECEIVER_PORT}/${info.project.name}/${stamp}`;
  await ready();
  const add = page.getByRole('form', { name: 'Add a webhook endpoint' });
  await add.getByLabel(/^URL/).fill(url);
  await add.getByLabel('Description').fill('SIEM');
  await add.getByLabel(/^Events/).fill('webhook,key');
  await add.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page).toHaveURL(/\/settings\/webhooks\?created=1$/);
  const secret = (await page.getByTestId('webhook-secret').textContent()) ?? '';
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  await expect(page.getByRole('table', { name: 'Webhook endpoints' })).toContainText(url);
  await expectAccessible(page);

  // The endpoint's own creation arrives, signed with that secret; the page shows the attempt.
  await expect.poll(() => received.filter((d) => d.body.includes(stamp)).length, { timeout: 15_000 }).toBeGreaterThan(0);
  const delivery = received.find((d) => d.body.includes(stamp))!;
  expect(JSON.parse(delivery.body).type).toBe('webhook.created');
  expect(verifies(secret, delivery)).toBe(true);
  await expect(async () => {
    await page.goto('/settings/webhooks');
    await expect(page.getByRole('table', { name: 'Webhook endpoints' })).toContainText('HTTP 200', { timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  await page.reload();
  await expect(page.getByTestId('webhook-secret')).toHaveCount(0);

  // A test event, on demand.
  await ready();
  await page.getByRole('button', { name: `Send a test event to ${url}` }).click();
  await expect(page).toHaveURL(/\/settings\/webhooks\?tested=1$/);
  await expect
    .poll(() => received.filter((d) => d.body.includes(stamp) && JSON.parse(d.body).type === 'webhook.test').length, {
      timeout: 15_000,
    })
    .toBe(1);

  // The endpoint's page lists every delivery with its attempts; one is sent again with the same webhook-id.
  await expect(async () => {
    await page.goto('/settings/webhooks');
    await page.getByRole('link', { name: url }).click();
    await expect(page.getByRole('table', { name: 'Deliveries' })).toContainText('webhook.test', { timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  await expectAccessible(page);
  const testDelivery = received.find((d) => d.body.includes(stamp) && JSON.parse(d.body).type === 'webhook.test')!;
  const deliveryId = testDelivery.headers['webhook-id'];
  await ready();
  await page.getByRole('button', { name: `Redeliver ${deliveryId}` }).click();
  await expect(page).toHaveURL(/\?redelivered=1$/);
  await expect
    .poll(() => received.filter((d) => d.headers['webhook-id'] === deliveryId).length, { timeout: 15_000 })
    .toBe(2);
  await page.goto('/settings/webhooks');

  // A new secret, shown once; then removed.
  await ready();
  await page.getByRole('button', { name: `New secret for ${url}` }).click();
  await expect(page).toHaveURL(/\/settings\/webhooks\?created=1$/);
  const rotated = (await page.getByTestId('webhook-secret').textContent()) ?? '';
  expect(rotated).toMatch(/^whsec_/);
  expect(rotated).not.toBe(secret);
  await ready();
  await page.getByRole('button', { name: `Remove the endpoint ${url}` }).click();
  await expect(page).toHaveURL(/\/settings\/webhooks\?deleted=1$/);
  await expect(page.getByText('No endpoint yet.')).toBeVisible();
});
