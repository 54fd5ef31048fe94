// The console's money pages in a real browser: Debian's chromium (playwright-core) against the
// real labgate-console and labgated (tests/browser/harness.mjs). A manager sets a rate and sells
// the demo day's acrylic sheet at the desk through the confirmation pages, down to the receipt;
// the ward report draws its charts with the console's own uPlot; desk staff are refused the
// rates page. What the browser did is checked where it lands, with labgatectl.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { Rig, launchBrowser, screenshot, tools } from './harness.mjs';

const t = tools();
const rig = new Rig(t);
let browser;
let page;

const BUYER = 'M0001';
const ACRYLIC = 'acrylic-3mm'; // seeded by the rig, as the demo day has it

before(async () => {
  const shots = path.join(t.out, 'screenshots');
  if (fs.existsSync(shots)) {
    for (const f of fs.readdirSync(shots)) if (f.startsWith('FAILED-money-')) fs.rmSync(path.join(shots, f));
  }
  await rig.start();
  browser = await launchBrowser(t);
  page = await browser.context.newPage();
});

after(async () => {
  await browser?.close();
  await rig.stop();
});

const url = (p) => rig.url + p;

function scenario(name, body) {
  test(name, async () => {
    try {
      await body();
    } catch (e) {
      const slug = name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
      if (page) await screenshot(t, page, `FAILED-money-${slug}`).catch(() => {});
      throw e;
    }
  });
}

async function login(who) {
  await browser.context.clearCookies();
  await page.goto(url('/login?lang=en'));
  await page.fill('#login', who);
  await page.fill('#password', rig.accounts[who].password);
  await Promise.all([page.waitForNavigation({ timeout: 10000 }),
    page.click('form:has(#password) button[type=submit]')]);
  assert.equal(new URL(page.url()).pathname, '/', `${who} logged in`);
}

/** Submits a form by its button and waits for the page it leads to. */
async function submit(selector) {
  await Promise.all([page.waitForNavigation({ timeout: 10000 }), page.click(selector)]);
}

/** April 1st of next year: always ahead of the site's clock, so the rate is a coming one. */
function nextApril() {
  const year = Number(new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo', year: 'numeric' })
    .format(new Date()));
  return `${year + 1}-04-01`;
}

scenario('a manager sets a rate through the confirmation page', async () => {
  await login('manager');
  await page.goto(url('/rates'));
  await page.selectOption('#rate-target', 'laser');
  await page.fill('#rate-from', nextApril());
  await page.fill('#rate-unit', '15');
  await page.fill('#rate-price', '320');
  await page.fill('#rate-note', 'new season');
  await submit('#rate-set-submit');
  assert.match(await page.textContent('#confirm-what'), /laser/);
  await screenshot(t, page, 'money-rate-confirm');
  await submit('#confirm-yes');
  assert.equal(new URL(page.url()).pathname, '/rates');
  const row = page.locator('tr[data-target="laser"][data-state="coming"]');
  assert.equal(await row.count(), 1, 'the coming laser rate is listed');
  assert.match(await row.textContent(), /320/);
  await screenshot(t, page, 'money-rates');
  const rates = JSON.parse(await rig.ctl(['--json', 'rates', 'list', '--target', 'laser']));
  const set = rates.find((r) => r.price_per_unit === 320);
  assert.ok(set, `labgatectl lists the rate: ${JSON.stringify(rates)}`);
  assert.equal(set.unit_seconds, 900);
  assert.match(set.created_by ?? '', /manager/);
});

scenario('a manager sells acrylic at the desk and sees the receipt', async () => {
  await login('manager');
  await page.goto(url('/desk'));
  await page.fill('#desk-q', BUYER);
  await submit('#desk-lookup button[type=submit]');
  await submit(`a[data-member="${BUYER}"]`);
  assert.match(await page.textContent('#desk-member h2'), /Aiko Tanaka/);
  await page.selectOption('#desk-item', ACRYLIC);
  await page.fill('#desk-qty', '2');
  await submit('#desk-sell-submit');
  assert.match(await page.textContent('#confirm-total'), /^900 /, 'two sheets at 450 yen');
  await screenshot(t, page, 'money-sale-confirm');
  await submit('#confirm-yes');
  assert.match(new URL(page.url()).pathname, /^\/desk\/receipts\/\d+$/);
  assert.equal((await page.textContent('#receipt-qty')).trim(), '2');
  assert.match(await page.textContent('#receipt-total'), /^900 /);
  assert.match(await page.textContent('#receipt-item'), /Acrylic sheet/);
  await screenshot(t, page, 'money-receipt');
  const account = JSON.parse(await rig.ctl(['--json', 'accounts', 'show', '--member', BUYER]));
  assert.equal(account.member_no, BUYER);
});

scenario('the ward report draws its charts with the console\'s uPlot', async () => {
  await login('manager');
  const month = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit' })
    .format(new Date());
  const res = await page.goto(url(`/reports/ward?period=${month}`));
  assert.equal(res.status(), 200);
  for (const id of ['chart-daily', 'chart-hourly', 'chart-machines']) {
    await page.waitForSelector(`#${id} .uplot canvas`, { timeout: 5000 });
  }
  assert.ok(await page.locator('#report-daily tbody tr').count() >= 1, 'the numbers are in a table too');
  await screenshot(t, page, 'money-ward-report');
  // The file links download the report's own files.
  const [download] = await Promise.all([page.waitForEvent('download'),
    page.click(`#report-files a[download="ward-${month}.json"]`)]);
  const saved = await download.path();
  assert.equal(JSON.parse(fs.readFileSync(saved, 'utf8')).period.label, month);
});

scenario('desk staff are refused the rates page', async () => {
  await login('desk');
  const res = await page.goto(url('/rates'));
  assert.equal(res.status(), 403, 'desk staff GET /rates');
  assert.equal(await page.locator('#rate-set').count(), 0, 'no rate form');
  assert.equal(await page.locator('nav a[href="/rates"]').count(), 0, 'no link to the rates');
  assert.equal(await page.locator('nav a[href="/desk"]').count(), 1, 'the desk page is theirs');
  await screenshot(t, page, 'money-rates-forbidden');
});
