// The console's frame, with JavaScript on and off: an owner fills the organisation with a little of everything,
// then walks every console page through the grouped navigation, checking that the current page is marked and
// that axe finds no WCAG 2.1 A/AA violation in the light or the dark scheme; then every page opened signed out.
// The header keeps to one line at 1280 and 375 px, the navigation folds into a menu on a phone (a checkbox,
// so it works without JavaScript), and a member without grants sees no empty group.
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { expectAccessible } from './a11y';
import { journey as sharedJourney } from './journey';
import { addExistingAccount, addMember, createTenant } from './server';

const PASSWORD = 'juniper-harbour-signal-73';
const MEMBER_PASSWORD = 'quiet-otter-lantern-58';

function fresh(info: TestInfo) {
  return `${info.project.name}-${Date.now()}${Math.floor(Math.random() * 1000)}`;
}

/** The shared page helpers, and a visit that checks a page's heading, marked link and accessibility. */
function journey(page: Page, js: boolean) {
  const { ready, setPassword, signIn, nav } = sharedJourney(page, js);

  /** Opens `path`, waits for its heading, checks the marked link (if any) and runs axe. */
  async function visit(path: string, heading: string | RegExp, current: string | null) {
    await page.goto(path);
    await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
    if (path !== '/no-such-page') await ready();
    if (current) {
      await expect(nav().getByRole('link', { name: current, exact: true })).toHaveAttribute('aria-current', 'page');
      await expect(nav().locator('[aria-current="page"]')).toHaveCount(1);
    }
    await expectAccessible(page);
  }

  return { ready, setPassword, signIn, nav, visit };
}

test('an admin walks every console page: grouped navigation, the current page marked, no axe violation', async ({
  page,
}, info) => {
  test.setTimeout(180_000);
  const js = info.project.name === 'javascript';
  const stamp = fresh(info);
  const tenant = `Console ${stamp}`;
  const ownerEmail = `owner-${stamp}@console.example`;
  const memberEmail = `analyst-${stamp}@console.example`;
  const j = journey(page, js);

  await j.setPassword(createTenant(tenant, ownerEmail), PASSWORD);
  addMember(tenant, memberEmail);
  await j.signIn(ownerEmail, PASSWORD);
  await expect(page).toHaveURL(/\/overview$/);

  // The groups, each a list named by its heading, in order.
  const nav = j.nav();
  for (const group of ['Team', 'Access', 'Data', 'Security']) {
    await expect(nav.getByRole('list', { name: group, exact: true })).toBeVisible();
  }
  await expect(nav.getByRole('list', { name: 'Team' }).getByRole('link')).toHaveText(['Members', 'Sessions']);
  await expect(nav.getByRole('list', { name: 'Access' }).getByRole('link')).toHaveText(['API keys', 'SSH keys', 'Machines']);
  await expect(nav.getByRole('list', { name: 'Data' }).getByRole('link')).toHaveText(['Vault', 'Data export']);
  await expect(nav.getByRole('list', { name: 'Security' }).getByRole('link')).toHaveText([
    'Access history', 'Network', 'Emergency', 'Webhooks', 'Approvals', 'Consent', 'Security settings',
  ]);

  // A little of everything, so that every table has rows: an invitation, a key, a file with a link, a block.
  await j.ready();
  await nav.getByRole('link', { name: 'Members' }).click();
  const invite = page.getByRole('form', { name: 'Invite someone' });
  await j.ready();
  await invite.getByLabel('Email').fill(`newcomer-${stamp}@console.example`);
  await invite.getByRole('button', { name: 'Send invitation' }).click();
  await expect(page.getByRole('table', { name: 'Pending invitations' })).toBeVisible();

  await j.ready();
  await nav.getByRole('link', { name: 'API keys' }).click();
  const create = page.getByRole('form', { name: 'Create a key' });
  await j.ready();
  await create.getByLabel('Description').fill('Nightly report');
  await create.getByRole('button', { name: 'Create key' }).click();
  await expect(page.getByRole('table', { name: 'API keys' })).toContainText('Nightly report');

  await j.ready();
  await nav.getByRole('link', { name: 'Vault' }).click();
  const upload = page.getByRole('form', { name: 'Upload files' });
  await j.ready();
  await upload.getByLabel('Files', { exact: true }).setInputFiles({
    name: 'incident-report.txt', mimeType: 'text/plain', buffer: Buffer.from(`report ${stamp}\n`),
  });
  await upload.getByRole('button', { name: 'Upload' }).click();
  const files = page.getByRole('table', { name: 'Files', exact: true });
  await files.getByRole('link', { name: 'incident-report.txt' }).click();
  await expect(page.getByRole('heading', { name: 'incident-report.txt' })).toBeVisible();
  await j.ready();
  await page.getByRole('form', { name: 'Create a link' }).getByRole('button', { name: 'Create link' }).click();
  await expect(page.getByTestId('fresh-link')).toBeVisible();
  await expectAccessible(page);
  const filePage = page.url();

  await j.ready();
  await nav.getByRole('link', { name: 'Network' }).click();
  const block = page.getByRole('form', { name: 'Block an address' });
  await j.ready();
  await block.getByLabel('IP address or CIDR block').fill('203.0.113.7');
  await block.getByLabel('Reason').fill('Port scanner');
  await block.getByRole('button', { name: 'Block', exact: true }).click();
  await expect(page.getByRole('table', { name: 'Blocked addresses' })).toContainText('203.0.113.7');

  // Every console page, through its address, with the link that should be marked current.
  const pages: [string, string | RegExp, string | null][] = [
    ['/overview', 'Overview', 'Overview'],
    ['/members', 'Members', 'Members'],
    ['/sessions', 'Your sessions', 'Sessions'],
    ['/keys', 'API keys', 'API keys'],
    ['/ssh-keys', 'SSH keys', 'SSH keys'],
    ['/settings/machines', 'Machines', 'Machines'],
    ['/api-reference', 'API reference', null],
    ['/vault', 'Vault', 'Vault'],
    ['/vault?deleted=1', 'Vault', 'Vault'],
    ['/vault/key', 'Vault encryption key', 'Vault'],
    ['/data-export', 'Data export', 'Data export'],
    ['/access-history', 'Access history', 'Access history'],
    ['/access-history/chain-key', 'Chain key', 'Access history'],
    ['/security', 'Security', 'Security settings'],
    ['/security/network', 'Network rules', 'Network'],
    ['/security/emergency', 'Emergency', 'Emergency'],
    ['/settings/webhooks', 'Webhooks', 'Webhooks'],
    ['/settings/approvals', 'Approvals', 'Approvals'],
    ['/settings/consent', 'Support access and consent', 'Consent'],
    ['/organisations', 'Your organisations', null],
    ['/organisation/closure', 'Close the organisation', null],
    ['/confirm-access?next=/security', "Confirm it's you", null],
    ['/two-factor/recovery-codes', 'Recovery codes', null],
    ['/two-factor/setup', 'Set up two-factor authentication', null],
    ['/no-such-page', 'Page not found', null],
  ];
  for (const [path, heading, current] of pages) await j.visit(path, heading, current);

  // Pages reached from others: a member's page and sessions, a key, a file, an event.
  await j.visit('/members', 'Members', 'Members');
  await page.getByRole('link', { name: `Manage ${memberEmail}` }).click();
  await expect(page.getByRole('heading', { name: 'Manage a member' })).toBeVisible();
  await page.getByRole('link', { name: `Sessions of ${memberEmail}` }).click();
  await expect(page.getByRole('heading', { name: 'Member sessions' })).toBeVisible();
  await expect(j.nav().getByRole('link', { name: 'Members' })).toHaveAttribute('aria-current', 'page');
  await expectAccessible(page);

  // A member's role and features are changed on the member's own page, with or without JavaScript.
  await j.visit('/members', 'Members', 'Members');
  await page.getByRole('link', { name: `Manage ${memberEmail}` }).click();
  await expect(page.getByRole('heading', { name: 'Manage a member' })).toBeVisible();
  await expect(j.nav().getByRole('link', { name: 'Members' })).toHaveAttribute('aria-current', 'page');
  await expectAccessible(page);
  await j.ready();
  const role = page.getByRole('form', { name: `Role of ${memberEmail}` });
  await expect(role.getByLabel('Data export', { exact: true })).not.toBeChecked();
  await role.getByLabel('Data export', { exact: true }).check();
  await role.getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(/\/members\?saved=1$/);
  await expect(page.getByRole('table', { name: 'Members' }).getByRole('row', { name: new RegExp(memberEmail) }))
    .toContainText('Data export');

  await j.visit('/keys', 'API keys', 'API keys');
  await page.getByRole('link', { name: 'Nightly report' }).click();
  await expect(page.getByRole('heading', { name: /API key “Nightly report”/ })).toBeVisible();
  await expect(j.nav().getByRole('link', { name: 'API keys' })).toHaveAttribute('aria-current', 'page');
  await expectAccessible(page);

  await j.visit(filePage, 'incident-report.txt', 'Vault');

  await j.visit('/access-history', 'Access history', 'Access history');
  await page.getByRole('table', { name: 'Events' }).locator('tbody tr').first().getByRole('link').click();
  await expect(page.getByRole('heading', { name: 'Event', exact: true })).toBeVisible();
  await expectAccessible(page);

  // Signed out: sign-in, password reset, and the pages of links that do not (or no longer) work.
  await j.visit('/overview', 'Overview', 'Overview');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in\?signed_out=1$/);
  await expectAccessible(page);
  await j.visit('/sign-in', 'Sign in to Rampart', null);
  await j.visit('/forgot-password', 'Reset your password', null);
  await j.visit('/setup/not-a-real-token', 'Set your password', null);
  await expect(page.getByRole('alert')).toContainText('This link is invalid');
  await j.visit('/invite/not-a-real-token', 'Join your organisation', null);
  await expect(page.getByRole('alert')).toContainText('This invitation is invalid');
  await j.visit('/reset-password/not-a-real-token', 'Choose a new password', null);
  await expect(page.getByRole('alert')).toContainText('This link is invalid');
  await j.visit('/sign-in/two-factor', 'Two-factor authentication', null);
  await expect(page.getByRole('alert')).toContainText('Your sign-in timed out');
});

/** Checks that every part of the banner sits on its one line, inside the viewport. */
async function expectOneLine(page: Page, width: number) {
  const banner = page.getByRole('banner');
  const box = await banner.boundingBox();
  expect(box, 'the header').not.toBeNull();
  const bar = box as { x: number; y: number; width: number; height: number };
  expect(bar.height, `the header's height at ${width} px`).toBeLessThanOrEqual(64);
  expect(bar.width, `the header's width at ${width} px`).toBeLessThanOrEqual(width);
  const parts = [
    banner.getByRole('link', { name: 'Rampart' }),
    banner.getByRole('link', { name: 'Switch organisation' }),
    banner.getByRole('button', { name: 'Sign out' }),
    banner.locator('.tenant'),
    banner.locator('.email'),
    banner.locator('.role'),
  ];
  for (const part of parts) {
    const b = await part.boundingBox();
    expect(b, `${part} at ${width} px`).not.toBeNull();
    const p = b as { x: number; y: number; width: number; height: number };
    expect(p.y, `${part} at ${width} px`).toBeGreaterThanOrEqual(bar.y);
    expect(p.y + p.height, `${part} at ${width} px`).toBeLessThanOrEqual(bar.y + bar.height);
    expect(p.x + p.width, `${part} at ${width} px`).toBeLessThanOrEqual(width);
  }
}

test('the header keeps to one line and the navigation folds into a menu on a phone', async ({ page }, info) => {
  const js = info.project.name === 'javascript';
  const stamp = fresh(info);
  // Long names on purpose: they are cut short, never wrapped.
  const tenant = `Northwind Logistics and Freight Services Europe ${stamp}`;
  const other = `Northwind Holdings ${stamp}`;
  const email = `alexandra.vandenberghe-${stamp}@subsidiary.northwind-logistics.example`;
  const j = journey(page, js);

  await j.setPassword(createTenant(tenant, email), PASSWORD);
  createTenant(other, `owner-${stamp}@holdings.example`);
  addExistingAccount(other, email, 'admin');
  await j.signIn(email, PASSWORD);
  // Two organisations: the account picks one first.
  await expect(page).toHaveURL(/\/organisations$/);
  await expect(page.getByRole('list', { name: 'Organisations' })).toContainText(other);
  await j.ready();
  await expectAccessible(page);
  const open = page.getByRole('button', { name: `Open ${tenant}` });
  if ((await open.count()) > 0) {
    await open.click();
    await expect(page).toHaveURL(/\/overview$/);
  } else {
    await page.goto('/overview');
  }
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
  await expect(page.getByRole('banner')).toContainText(tenant);
  await expect(page.getByRole('banner')).toContainText(email);

  await page.setViewportSize({ width: 1280, height: 800 });
  await expectOneLine(page, 1280);
  await expect(j.nav().getByRole('checkbox', { name: 'Menu' })).toBeHidden();
  await expect(j.nav().getByRole('link', { name: 'Members' })).toBeVisible();

  await page.setViewportSize({ width: 375, height: 812 });
  await expectOneLine(page, 375);
  // The links wait behind the menu, which opens and closes without JavaScript.
  const menu = j.nav().getByRole('checkbox', { name: 'Menu' });
  await expect(menu).toBeVisible();
  await expect(menu).not.toBeChecked();
  await expect(j.nav().getByRole('link', { name: 'Members' })).toBeHidden();
  await expectAccessible(page);
  await j.ready();
  await menu.check();
  await expect(j.nav().getByRole('link', { name: 'Members' })).toBeVisible();
  await expect(j.nav().getByRole('link', { name: 'Overview' })).toHaveAttribute('aria-current', 'page');
  await expectAccessible(page);
  await j.nav().getByRole('link', { name: 'Members' }).click();
  await expect(page).toHaveURL(/\/members$/);
  await expect(page.getByRole('heading', { name: 'Members', exact: true })).toBeVisible();
  await expect(j.nav().getByRole('link', { name: 'Members' })).toBeHidden();
  await expectOneLine(page, 375);
  await expectAccessible(page);
});

test('a member without grants sees only the groups they can use', async ({ page }, info) => {
  const js = info.project.name === 'javascript';
  const stamp = fresh(info);
  const tenant = `Console member ${stamp}`;
  const memberEmail = `member-${stamp}@console.example`;
  const j = journey(page, js);

  createTenant(tenant, `owner-${stamp}@console.example`);
  await j.setPassword(addMember(tenant, memberEmail), MEMBER_PASSWORD);
  await j.signIn(memberEmail, MEMBER_PASSWORD);
  await expect(page).toHaveURL(/\/overview$/);
  await expect(page.getByRole('banner')).toContainText(memberEmail);
  await expect(page.getByRole('banner').getByRole('link', { name: 'Switch organisation' })).toHaveCount(0);

  const nav = j.nav();
  await expect(nav.getByRole('list', { name: 'Team' }).getByRole('link')).toHaveText(['Sessions']);
  await expect(nav.getByRole('list', { name: 'Security' }).getByRole('link')).toHaveText(['Security settings']);
  for (const hidden of ['Access', 'Data']) {
    await expect(nav.getByRole('list', { name: hidden, exact: true })).toHaveCount(0);
    await expect(nav.getByText(hidden, { exact: true })).toHaveCount(0);
  }
  for (const link of ['Members', 'API keys', 'Vault', 'Data export', 'Access history', 'Network', 'Emergency', 'Webhooks']) {
    await expect(nav.getByRole('link', { name: link })).toHaveCount(0);
  }
  await expectAccessible(page);
  await j.visit('/sessions', 'Your sessions', 'Sessions');
  await j.visit('/security', 'Security', 'Security settings');
});
