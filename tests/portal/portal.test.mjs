// The portal in a real browser (issue 10): Debian's Chromium, headless,
// driven by playwright-core against the server run.sh started. Each test signs
// in by pasting a token, as a person would, and checks what the page shows
// against the public API's own answers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const endpoint = process.env.STACKBILL_ENDPOINT;
const tokens = {
  platform: process.env.PLATFORM_TOKEN,
  partner: process.env.PARTNER_TOKEN,
  customer: process.env.CUSTOMER_TOKEN,
};
const lastMonth = process.env.LAST_MONTH;
const thisMonth = process.env.THIS_MONTH;
const screenshots = process.env.PORTAL_SCREENSHOTS;
for (const [name, token] of Object.entries(tokens)) assert.ok(token, `no ${name} token`);

async function api(path, token, { method = 'GET', body, as = 'json' } = {}) {
  const response = await fetch(endpoint + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return as === 'text' ? text : JSON.parse(text);
}

// Exact sum of decimal strings, done here independently of the portal's own.
function sum(values) {
  const scale = 10;
  let total = 0n;
  for (const v of values) {
    const negative = v.startsWith('-');
    const [whole, fraction = ''] = v.replace('-', '').split('.');
    const units = BigInt(whole) * 10n ** BigInt(scale) + BigInt(fraction.padEnd(scale, '0').slice(0, scale) || '0');
    total += negative ? -units : units;
  }
  const negative = total < 0n;
  const abs = negative ? -total : total;
  const whole = abs / 10n ** BigInt(scale);
  const fraction = (abs % 10n ** BigInt(scale)).toString().padStart(scale, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}
const same = (a, b) => sum([a, `-${b}`.replace('--', '')]) === '0';

let browser;
const dialogs = [];
before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox'] });
});
after(async () => { await browser?.close(); });

async function signIn(token, { width = 1280, height = 900 } = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width, height } });
  const page = await context.newPage();
  page.on('dialog', async (dialog) => { dialogs.push(dialog.message()); await dialog.dismiss(); });
  const failures = [];
  page.on('pageerror', (error) => failures.push(error.message));
  page.failures = failures;
  await page.goto(`${endpoint}/portal/`);
  await page.fill('#token', token);
  await page.press('#token', 'Enter');
  await page.waitForSelector('#who button');
  assert.ok(!page.url().includes(token), 'the token must never be in a URL');
  return page;
}

// Opens `hash` and waits until that page says it is complete (main's
// data-loaded), then for `selector` on it.
async function go(page, hash, selector) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForFunction((h) => document.getElementById('main').dataset.loaded === h, hash);
  await page.waitForSelector(selector);
}

const shot = async (page, name) => {
  if (!screenshots) return;
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: `${screenshots}/${name}.png`, fullPage: true });
};

test('the portal is served with a CSP that forbids inline scripts', async () => {
  const response = await fetch(`${endpoint}/portal/`);
  assert.equal(response.status, 200);
  const csp = response.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  const html = await response.text();
  for (const [tag] of html.matchAll(/<script\b[^>]*>/g)) assert.match(tag, /\bsrc="\/portal\//, `inline script: ${tag}`);
  assert.doesNotMatch(html, /\son[a-z]+=|style=/i, 'no inline handlers or styles');
  assert.equal((await fetch(`${endpoint}/portal/no-such-file.js`)).status, 404);
  assert.equal((await fetch(`${endpoint}/portal/..%2Fs.db`)).status, 404);
});

test('a partner sees per-customer totals and a chart that match the API, and downloads an invoice CSV equal to it', async () => {
  const page = await signIn(tokens.partner);
  await go(page, `#/partner/contoso-csp/${thisMonth}`, '#per-customer table');
  const estimate = await api(`/v1/invoices/estimate?partnerId=contoso-csp&period=${thisMonth}`, tokens.partner);
  // The API's per-customer subtotals, and the same summed here from its lines.
  const expected = new Map(estimate.customers.map((c) => [c.customerName, c.subtotal]));
  const summed = new Map();
  for (const line of estimate.lines) {
    summed.set(line.customerName ?? '', sum([summed.get(line.customerName ?? '') ?? '0', line.amount]));
  }
  const shown = await page.$$eval('#per-customer tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  assert.equal(shown.length, expected.size);
  if (process.env.THIS_MONTH_HAS_USAGE === '1') assert.ok(shown.length > 0, 'the month has usage');
  for (const [label, amount] of shown) {
    const name = label.startsWith('No customer') ? '' : label;
    assert.ok(expected.has(name), `unexpected customer ${label}`);
    assert.equal(amount, expected.get(name), `${label}: portal ${amount}, API ${expected.get(name)}`);
    assert.ok(same(amount, summed.get(name)), `${label}: portal ${amount}, the API's lines ${summed.get(name)}`);
  }
  assert.ok(same(sum(shown.map(([, a]) => a)), estimate.total), 'the customers add up to the estimate');
  assert.equal(await page.textContent('#estimate-total'), `${estimate.total} ${estimate.currency}`);
  await page.waitForFunction(() => window.Chart?.getChart(document.getElementById('monthly-chart')));
  const monthly = await page.evaluate(() => window.Chart.getChart(document.getElementById('monthly-chart')).data);
  assert.ok(monthly.labels.includes(thisMonth));
  assert.equal(monthly.datasets[0].data[monthly.labels.indexOf(thisMonth)], Number(estimate.total));
  if (estimate.lines.length) {
    const daily = await page.evaluate(() => window.Chart.getChart(document.getElementById('daily-chart'))?.data.labels);
    assert.ok(daily?.length > 0, 'the daily chart has days');
  }
  await shot(page, 'portal-partner');

  const invoices = (await api('/v1/invoices?partnerId=contoso-csp', tokens.partner)).value;
  const invoice = invoices.find((i) => i.period === lastMonth);
  assert.ok(invoice, `an invoice for ${lastMonth}`);
  await go(page, '#/invoices/contoso-csp', `a[href="#/invoice/${invoice.id}"]`);
  await page.click(`a[href="#/invoice/${invoice.id}"]`);
  await page.waitForSelector('#download-csv');
  assert.equal(await page.textContent('#invoice-total'), `${invoice.total} ${invoice.currency}`);
  await shot(page, 'portal-invoice');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
  const csv = readFileSync(await download.path(), 'utf8');
  assert.equal(csv, await api(`/v1/invoices/${invoice.id}?format=csv`, tokens.partner, { as: 'text' }));
  assert.deepEqual(page.failures, []);
  await page.context().close();
});

test('a PlatformAdmin adds and removes a customer subscription and sees a refusal in plain words', async () => {
  const subscriptions = (await api('/v1/subscriptions', tokens.platform)).value;
  const byName = (name) => subscriptions.find((s) => s.displayName === name);
  const adventure = byName('Adventure Works on Contoso');
  const woodgrove = byName('Woodgrove on Litware');
  const stacks = (await api('/v1/stacks', tokens.platform)).value;
  const stack = stacks.find((s) => s.registration?.name === 'contoso-stack1');
  assert.ok(adventure && woodgrove && stack);

  const page = await signIn(tokens.platform);
  await go(page, '#/stacks', `a[href="#/stack/${stack.cloudId}"]`);
  const row = await page.$$eval(`a[href="#/stack/${stack.cloudId}"]`, ([link]) =>
    [...link.closest('tr').cells].map((c) => c.textContent));
  assert.equal(row[6], String(stack.usageRecordsAccepted), 'forwarding health: records accepted');
  assert.equal(row[7], String(stack.quarantineCount), 'forwarding health: quarantined');
  await page.click(`a[href="#/stack/${stack.cloudId}"]`);
  await page.waitForSelector('#customer-subscription');
  await shot(page, 'portal-stack');
  await page.fill('#customer-subscription', adventure.subscriptionId);
  await page.fill('#customer-tenant', adventure.directoryId);
  await page.click('form.inline button[type=submit] >> text=Add');
  await page.waitForSelector(`button[aria-label="Remove ${adventure.subscriptionId}"], #stack-status .error`);
  assert.equal(await page.$('#stack-status .error'), null, await page.textContent('#stack-status'));
  await page.click(`button[aria-label="Remove ${adventure.subscriptionId}"]`);
  await page.waitForSelector('#stack-status .notice:has-text("removed"), #stack-status .error');
  assert.equal(await page.textContent('#stack-status'), `Customer subscription ${adventure.subscriptionId} removed.`);
  assert.equal(await page.$(`button[aria-label="Remove ${adventure.subscriptionId}"]`), null);

  await page.fill('#customer-subscription', woodgrove.subscriptionId);
  await page.fill('#customer-tenant', woodgrove.directoryId);
  await page.click('form.inline button[type=submit] >> text=Add');
  const refusal = await page.waitForSelector('#stack-status .error');
  const text = await refusal.textContent();
  assert.match(text, /does not belong to this registration's CSP partner/);
  assert.match(text, /Request id /);
  assert.deepEqual(page.failures, []);
  await page.context().close();
});

test('every page opens for a PlatformAdmin without an error, by keyboard too', async () => {
  const page = await signIn(tokens.platform);
  const sections = await page.$$eval('#nav a', (links) => links.map((a) => a.getAttribute('href')));
  assert.deepEqual(sections, ['#/partner', '#/invoices', '#/customers', '#/stacks', '#/quarantine',
    '#/periods', '#/audit']);
  for (const hash of sections) {
    await go(page, hash, '#main h1');
    await page.waitForFunction(() => !document.querySelector('#main [role=status]'));
    assert.equal(await page.$('#main .error'), null, `${hash}: ${await page.textContent('#main')}`);
  }
  // The sections are links in the tab order: Tab from the brand reaches the first, Enter opens it.
  await page.focus('.brand');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('href')), '#/partner');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#per-customer');
  assert.deepEqual(page.failures, []);
  await page.context().close();
});

test('a customer-directory principal sees no billing data anywhere (R8)', async () => {
  const page = await signIn(tokens.customer);
  await page.waitForSelector('text=Nothing to show');
  assert.equal(await page.$$eval('#nav a', (links) => links.length), 0);
  for (const hash of [`#/partner/contoso-csp/${thisMonth}`, '#/invoices/contoso-csp', '#/statements/contoso-csp', '#/stacks']) {
    await go(page, hash, '#main .error, #main h1');
    const text = await page.textContent('#main');
    assert.doesNotMatch(text, /\d+\.\d{2} USD|Estimated charges|Invoice SB-/, `${hash} shows billing data: ${text}`);
  }
  await page.context().close();
});

test('a customer named like markup is shown as text (XSS probe)', async () => {
  const probe = '<img src=x onerror=alert(1)>';
  const fabrikam = (await api('/v1/subscriptions', tokens.platform)).value
    .find((s) => s.displayName === 'Fabrikam on Contoso');
  await api('/v1/subscriptions', tokens.platform, {
    method: 'POST',
    body: { displayName: probe, offerType: 'CSP', partnerId: 'contoso-csp', directoryId: fabrikam.directoryId },
  });
  const page = await signIn(tokens.partner, { width: 390, height: 844 });  // a phone
  await go(page, '#/customers/contoso-csp', '#main table');
  assert.ok((await page.textContent('#main')).includes(probe));
  assert.equal(await page.$$eval('#main img', (images) => images.length), 0);
  assert.deepEqual(dialogs, []);
  await shot(page, 'portal-customers-phone');
  await page.context().close();
});
