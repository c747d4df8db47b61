// Accessibility checks shared by every journey: axe-core over the page as it stands, with the WCAG 2.0 and 2.1
// A and AA rules, once in the light and once in the dark colour scheme (the stylesheet follows
// prefers-color-scheme, so contrast is checked for both palettes). A page passes with zero violations; no rule
// is switched off.
//
// With JavaScript on, @axe-core/playwright runs axe in the page. With it off (the no-javascript project) the
// page runs no script at all, so axe runs in an isolated world of its own (Chromium's DevTools protocol, the
// way Playwright's own locators work there): the same DOM and styles, and the page's script setting untouched.
// Both run the same axe-core (the one @axe-core/playwright depends on) with the same rules.
import AxeBuilder from '@axe-core/playwright';
import axe from 'axe-core';
import { expect, test, type Page } from '@playwright/test';
import { appendFileSync } from 'node:fs';

const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

type Violation = axe.Result;

/** One line per violation: the rule, what it asks, and where (selectors), so a failure says what to fix. */
function describe(v: Violation): string {
  const where = v.nodes.map((n) => `${n.target.join(' ')}${n.failureSummary ? ` (${n.failureSummary.replace(/\s+/g, ' ')})` : ''}`);
  return `${v.id} [${v.impact}]: ${v.help} — ${where.join('; ')}`;
}

/**
 * With scripts disabled Chromium never fires timers, not even an isolated world's, and axe waits on
 * `setTimeout`; animation frames still run, so the world gets a `setTimeout` driven by them.
 */
const TIMERS_FROM_FRAMES = `(() => {
  const due = new Map();
  let next = 1;
  let ticking = false;
  const tick = () => {
    ticking = false;
    const now = performance.now();
    for (const [id, [at, run]] of [...due]) if (at <= now) { due.delete(id); run(); }
    if (due.size && !ticking) { ticking = true; requestAnimationFrame(tick); }
  };
  window.setTimeout = (fn, ms = 0, ...args) => {
    const id = next++;
    due.set(id, [performance.now() + ms, () => fn(...args)]);
    if (!ticking) { ticking = true; requestAnimationFrame(tick); }
    return id;
  };
  window.clearTimeout = (id) => { due.delete(id); };
})()`;

/** axe in an isolated world of the page's main frame, for pages where scripts are disabled. */
async function violationsWithoutPageScripts(page: Page): Promise<Violation[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { frameTree } = await cdp.send('Page.getFrameTree');
    const { executionContextId: contextId } = await cdp.send('Page.createIsolatedWorld', {
      frameId: frameTree.frame.id,
      worldName: 'rampart-axe',
    });
    const run = async (expression: string) => {
      const { result, exceptionDetails } = await cdp.send('Runtime.evaluate', {
        expression, contextId, awaitPromise: true, returnByValue: true,
      });
      if (exceptionDetails) throw new Error(`axe: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
      return result.value;
    };
    await run(`${TIMERS_FROM_FRAMES};${axe.source};0`);
    const options = JSON.stringify({ runOnly: { type: 'tag', values: TAGS } });
    return JSON.parse(await run(`axe.run(document, ${options}).then((r) => JSON.stringify(r.violations))`));
  } finally {
    await cdp.detach();
  }
}

/**
 * Runs axe over `page` in the light and the dark colour scheme and expects no violation; leaves the page in
 * the light scheme (the projects' default). With AXE_LOG set, appends the checked path to that file (for a
 * count of the pages covered).
 */
export async function expectAccessible(page: Page): Promise<void> {
  const scripts = test.info().project.use.javaScriptEnabled !== false;
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const violations = scripts
      ? (await new AxeBuilder({ page }).withTags(TAGS).analyze()).violations
      : await violationsWithoutPageScripts(page);
    expect(violations.map(describe), `axe in the ${colorScheme} scheme on ${page.url()}`).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  if (process.env.AXE_LOG) appendFileSync(process.env.AXE_LOG, `${new URL(page.url()).pathname}\n`);
}
