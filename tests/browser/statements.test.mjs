// The statements pages in a real browser (Debian's chromium, playwright-core) against the real
// labgate-console and labgated (tests/browser/harness.mjs): a manager previews November, downloads
// the CSV and the invoice PDF, which are the files labgatectl writes byte for byte, and issues the
// month through the confirmation and the progress page; desk staff cannot open the pages.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { Rig, launchBrowser, run, screenshot, tools } from './harness.mjs';

const t = tools();
const rig = new Rig(t);
let browser;
let page;
const url = (p) => rig.url + p;

before(async () => {
  rig.accounts.manager = { role: 'manager', name: 'Manager Mori', password: randomBytes(12).toString('base64url') };
  await rig.start();
  // November's usage: M0001 bought two acrylic sheets on 2026-11-20 at 10:00 JST. A sale as the
  // desk records it (labgatectl sell records it at the current time, which is past November).
  const db = path.join(rig.dir, 'lab.db');
  const sql = "INSERT OR IGNORE INTO price_list (code, name, price, day_pass) VALUES ('acrylic', 'Acrylic 3mm', 450, 0);" +
    "INSERT INTO sales (member_id, item_code, quantity, unit_price, at_ms, actor) VALUES" +
    ` ((SELECT id FROM members WHERE member_no = 'M0001'), 'acrylic', 2, 450, ${Date.UTC(2026, 10, 20, 1, 0)}, 'setup');`;
  const r = await run(['sqlite3', '-cmd', '.timeout 10000', db, sql]);
  assert.equal(r.code, 0, `sqlite3: ${r.stderr}`);
  browser = await launchBrowser(t);
  page = await browser.context.newPage();
});

after(async () => {
  await browser?.close();
  await rig.stop();
});

async function login(who) {
  await browser.context.clearCookies();
  await page.goto(url('/login'));
  await page.fill('#login', who);
  await page.fill('#password', rig.accounts[who].password);
  await Promise.all([page.waitForNavigation({ timeout: 10000 }),
    page.click('form:has(#password) button[type=submit]')]);
}

async function download(selector) {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), page.click(selector)]);
  return fs.readFileSync(await dl.path());
}

function scenario(name, body) {
  test(name, async () => {
    try {
      await body();
    } catch (e) {
      const slug = name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
      if (page) await screenshot(t, page, `FAILED-${slug}`).catch(() => {});
      throw e;
    }
  });
}

scenario('desk staff cannot open the statements pages or issue', async () => {
  await login('desk');
  const r = await page.goto(url('/statements?month=2026-11'));
  assert.equal(r.status(), 403);
  assert.equal(await page.locator('#issue-button').count(), 0);
  assert.equal(await page.locator('a[href="/statements"]').count(), 0, 'no statements link for desk');
});

scenario('a manager previews November and downloads the files labgatectl writes', async () => {
  await login('manager');
  await page.goto(url('/statements'));
  await page.fill('#month', '2026-11');
  await Promise.all([page.waitForNavigation(), page.click('#preview')]);
  const total = page.locator('#month-total');
  assert.equal(await total.getAttribute('data-members'), '1');
  assert.equal(await total.getAttribute('data-total'), '900');
  await Promise.all([page.waitForNavigation(), page.click('tr[data-member="M0001"] a')]);
  assert.equal(await page.locator('#total').getAttribute('data-total'), '900');

  const csv = await download('#download-csv');
  const ctlCsv = await run([t.labgatectl, '--config', rig.config, 'statements', 'show', '--member', 'M0001',
    '--month', '2026-11', '--format', 'csv']);
  assert.equal(ctlCsv.code, 0, ctlCsv.stderr);
  assert.ok(csv.equals(Buffer.from(ctlCsv.stdout, 'utf8')), 'the CSV is labgatectl\'s, byte for byte');

  const pdf = await download('#download-pdf');
  const out = path.join(rig.dir, 'M0001.pdf');
  await rig.ctl(['statements', 'invoice', '--member', 'M0001', '--month', '2026-11', '--lang', 'ja',
    '--format', 'pdf', '--out', out]);
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  assert.ok(pdf.equals(fs.readFileSync(out)), 'the PDF is labgatectl\'s, byte for byte');
});

scenario('a manager issues November through the confirmation and the progress page', async () => {
  await login('manager');
  await page.goto(url('/statements?month=2026-11'));
  await Promise.all([page.waitForNavigation(), page.click('#issue-button')]);
  const what = page.locator('#confirm-what');
  assert.equal(await what.getAttribute('data-members'), '1');
  assert.equal(await what.getAttribute('data-total'), '900');
  await Promise.all([page.waitForNavigation(), page.click('#confirm-yes')]);
  // The job page reloads itself until the issue is done.
  await page.waitForSelector('#job-phase[data-stage="done"]', { timeout: 30000 });
  assert.equal(await page.locator('#job-result').getAttribute('data-issued'), '1');
  const list = JSON.parse(await rig.ctl(['--json', 'statements', 'list', '--month', '2026-11']));
  assert.equal(list.length, 1);
  assert.equal(list[0].member_no, 'M0001');
  assert.equal(list[0].total, 900);
  await screenshot(t, page, 'statements-issued');
});
