// The staff console in a real browser: Debian's chromium (playwright-core) against the real
// labgate-console and the real labgated reading emulated PN532s (tests/browser/harness.mjs).
// The scenarios run in order on one site, each on its own member so that one missing page fails
// one scenario: the member desk staff register (M0100) is approved and gets a card at the desk;
// seeded M0001 (certified for the laser) taps for the live page and runs the laser staff lock
// out; seeded M0002 gets the laser certification from a trainer. What the browser does is checked
// where it lands: in the store (labgatectl) and on labgated's outputs (its control socket).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { Rig, launchBrowser, screenshot, tools } from './harness.mjs';

const t = tools();
const rig = new Rig(t);
let browser;
let page;

const MEMBER = 'M0100';
const MEMBER_NAME = 'Kenji Sato';
const CARD = '04B00100';
// Seeded by the rig (tests/browser/harness.mjs).
const CERTIFIED = { no: 'M0001', card: '04000001' };
const UNCERTIFIED = { no: 'M0002', card: '04000002' };

before(async () => {
  // A failure's screenshot from an earlier run must not pass for this run's.
  const shots = path.join(t.out, 'screenshots');
  if (fs.existsSync(shots)) {
    for (const f of fs.readdirSync(shots)) if (f.startsWith('FAILED-')) fs.rmSync(path.join(shots, f));
  }
  await rig.start();
  browser = await launchBrowser(t);
  page = await browser.context.newPage();
  // A script that asks with a dialog gets a yes, as from the staff member in this suite.
  page.on('dialog', (d) => d.accept());
});

after(async () => {
  await browser?.close();
  await rig.stop();
});

const url = (p) => rig.url + p;

/**
 * One scenario: a node:test test that, when it fails, also saves what the browser showed as
 * screenshots/FAILED-<scenario>.png.
 */
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

/** The member's row from labgatectl --json members list, or undefined. */
async function memberRow(no) {
  const rows = JSON.parse(await rig.ctl(['--json', 'members', 'list']));
  return rows.find((r) => r.member_no === no || r.no === no);
}

async function login(who, password = rig.accounts[who].password) {
  await browser.context.clearCookies();
  await page.goto(url('/login'));
  await page.fill('#login', who);
  await page.fill('#password', password);
  // The login form's own button: every page also has the language form's.
  await Promise.all([page.waitForNavigation({ timeout: 10000 }),
    page.click('form:has(#password) button[type=submit]')]);
}

/**
 * Fills the first field of `form` whose name is one of `names` (inputs or selects); false when
 * the form has none of them.
 */
async function fill(form, names, value) {
  for (const n of names) {
    const field = form.locator(`[name="${n}"]`);
    if ((await field.count()) === 0) continue;
    const tag = await field.first().evaluate((e) => e.tagName.toLowerCase());
    if (tag === 'select') await field.first().selectOption(value);
    else await field.first().fill(value);
    return true;
  }
  return false;
}

/** The first form posting to `action` on the first of `paths` that has one; throws naming them. */
async function findForm(action, paths) {
  for (const p of paths) {
    await page.goto(url(p));
    const form = page.locator(`form[action="${action}"][method="post" i]`);
    if ((await form.count()) > 0) return form.first();
  }
  throw new Error(`no form posting to ${action} on ${paths.join(', ')}`);
}

async function submit(form) {
  // A post answers with a page or a redirect: either way the browser navigates.
  await Promise.all([page.waitForNavigation({ timeout: 10000 }),
    form.locator('[type=submit]').first().click()]);
  // Staff actions answer with a confirmation page first (it works without JavaScript): the staff
  // member in this suite always says yes.
  if ((await page.locator('#confirm-yes').count()) > 0) {
    await Promise.all([page.waitForNavigation({ timeout: 10000 }), page.click('#confirm-yes')]);
  }
}

scenario('desk staff log in (a wrong password is refused)', async () => {
  await login('desk', 'not-the-password');
  assert.equal(await page.locator('#password').count(), 1, 'a wrong password must leave the login form up');
  await screenshot(t, page, 'login');

  await login('desk');
  assert.equal(new URL(page.url()).pathname, '/', `after login the live page, not ${page.url()}`);
  assert.equal(await page.locator('#events').count(), 1, 'the live page has the #events list');
  assert.ok((await page.locator('[data-door="front"]').count()) >= 1, 'the live page shows door front');
  assert.ok((await page.locator('[data-machine="laser"]').count()) >= 1, 'the live page shows machine laser');
  const session = (await browser.context.cookies()).find((c) => c.httpOnly);
  assert.ok(session, 'the session cookie is HttpOnly');
  assert.equal(session.sameSite, 'Strict', 'the session cookie is SameSite=Strict');
  await screenshot(t, page, 'live');
});

scenario('desk staff register a member and approve them', async () => {
  const form = await findForm('/members', ['/members', '/members/new']);
  await screenshot(t, page, 'members');
  assert.ok(await fill(form, ['no', 'member_no', 'number'], MEMBER), 'the register form has a member number field');
  assert.ok(await fill(form, ['name'], MEMBER_NAME), 'the register form has a name field');
  assert.ok(await fill(form, ['plan', 'plan_code'], 'all'), 'the register form has a plan field');
  await submit(form);
  const pending = await memberRow(MEMBER);
  assert.ok(pending, `${MEMBER} is in the store after registering`);
  assert.equal(pending.status, 'pending');

  await page.goto(url(`/members?q=${MEMBER}`));
  assert.ok((await page.locator(`a[href="/members/${MEMBER}"]`).count()) >= 1, 'the search finds the new member');

  const approve = await findForm(`/members/${MEMBER}/approve`, [`/members/${MEMBER}`]);
  await screenshot(t, page, 'member-pending');
  await submit(approve);
  assert.equal((await memberRow(MEMBER)).status, 'active');
  await page.goto(url(`/members/${MEMBER}`));
  assert.match(await page.textContent('body'), new RegExp(MEMBER_NAME));
  await screenshot(t, page, 'member');
});

scenario('desk staff enrol the member\'s card at the desk reader', async () => {
  const res = await page.goto(url(`/members/${MEMBER}/enrol`));
  assert.equal(res.status(), 200, `GET /members/${MEMBER}/enrol`);
  // The reception desk's reader is the front door's (the daemon polls door and machine readers;
  // a role = "desk" reader is labgatectl's DESFire writer, which the daemon never opens).
  await page.selectOption('#enrol-reader', 'front-in');
  await Promise.all([page.waitForNavigation({ timeout: 10000 }), page.click('#enrol-start')]);
  await enrolState(/waiting/, 5000);
  await screenshot(t, page, 'enrol-waiting');
  const placed = await rig.emu('front-in', `place classic ${CARD}`);
  assert.match(placed, /^ok placed/);
  await enrolState(/done/, 10000);
  await screenshot(t, page, 'enrol-done');
  await rig.remove('front-in');
  // The store keeps only a keyed hash of the card's ID: the member has one card now, and it is
  // this one, since it opens the front door.
  const cards = JSON.parse(await rig.ctl(['--json', 'credentials', 'list', '--member', MEMBER]));
  assert.equal(cards.filter((c) => !c.revoked_at).length, 1,
    `labgatectl credentials list --member ${MEMBER}: one card`);
  assert.match(await rig.place('front-in', CARD), new RegExp(`^granted front ${MEMBER} `));
  await rig.remove('front-in');
});

/**
 * Waits until the enrolment page's #enrol-status reads `re`: the page reloads itself every two
 * seconds while it waits for the card (it works without JavaScript), so each look is taken on
 * whatever page has loaded.
 */
async function enrolState(re, timeout) {
  const deadline = Date.now() + timeout;
  let seen = '';
  while (Date.now() < deadline) {
    seen = await page.locator('#enrol-status').getAttribute('data-state', { timeout: 1000 })
      .catch(() => '');
    if (re.test(seen ?? '')) return;
    await page.waitForTimeout(200);
  }
  throw new Error(`#enrol-status stayed '${seen}', not ${re}, for ${timeout} ms`);
}

scenario('a tap on pn532-emu appears on the live page within 1 s', async () => {
  await page.goto(url('/'));
  const newest = () => page.evaluate(() =>
    Math.max(0, ...[...document.querySelectorAll('#events li[data-seq]')].map((li) => Number(li.dataset.seq))));
  const before = await newest();
  // Give the live connection its moment to open before the event it must carry.
  await page.waitForTimeout(300);
  const decision = await rig.place('front-in', CERTIFIED.card);
  const committed = Date.now();
  assert.match(decision, new RegExp(`^granted front ${CERTIFIED.no} `), 'the front door grants the card');
  const seq = Number(/seq=(\d+)/.exec(decision)?.[1]);
  assert.ok(seq > before, `the tap's event seq ${seq} is new`);
  await page.waitForSelector(`#events li[data-seq="${seq}"]`, { timeout: 1000 });
  const took = Date.now() - committed;
  assert.ok(took <= 1000, `the event reached the page ${took} ms after labgated acknowledged it`);
  assert.match(await page.textContent(`#events li[data-seq="${seq}"]`), new RegExp(CERTIFIED.no));
  console.log(`live update: event seq=${seq} on the page ${took} ms after labgated acknowledged the read`);
  await screenshot(t, page, 'live-after-tap');
  await rig.remove('front-in');
});

scenario('a trainer grants the laser certification and the next laser tap is granted', async () => {
  const refused = await rig.place('laser', UNCERTIFIED.card);
  assert.match(refused, /^denied /, 'without the certification the laser refuses the card');
  assert.equal(await rig.output('laser.relay'), 'off');
  await rig.remove('laser');

  await login('trainer');
  const form = await findForm('/certifications', ['/certifications', '/certifications/new']);
  await screenshot(t, page, 'certifications');
  assert.ok(await fill(form, ['member', 'member_no', 'no'], UNCERTIFIED.no), 'the grant form has a member field');
  assert.ok(await fill(form, ['type', 'cert_type', 'certification'], 'laser'), 'the grant form has a type field');
  // The trainer may be the logged-in account or a field of its own.
  await fill(form, ['trainer'], rig.accounts.trainer.name);
  await submit(form);
  const certs = await rig.ctl(['certs', 'list', '--member', UNCERTIFIED.no]);
  assert.match(certs, /laser/, `labgatectl certs list --member ${UNCERTIFIED.no}`);

  const granted = await rig.place('laser', UNCERTIFIED.card);
  assert.match(granted, new RegExp(`^granted laser ${UNCERTIFIED.no} `));
  assert.equal(await rig.output('laser.relay'), 'on');
  await rig.remove('laser');
});

scenario('staff lock out the running laser and labgated cuts its relay', async () => {
  // A card an earlier scenario left on the laser when it failed comes off first.
  if (!(await rig.emu('laser', 'status')).includes('card=none')) await rig.remove('laser');
  // The member certified by the trainer's scenario may still hold the laser in its grace period
  // (the card came off seconds ago): then it is their card that runs the laser.
  let holder = CERTIFIED;
  let placed = await rig.place('laser', CERTIFIED.card);
  if (/machine_in_use/.test(placed)) {
    await rig.remove('laser');
    holder = UNCERTIFIED;
    placed = await rig.place('laser', UNCERTIFIED.card);
  }
  assert.match(placed, new RegExp(`^granted laser ${holder.no} `));
  assert.equal(await rig.output('laser.relay'), 'on', 'the laser runs for a certified member');
  await login('staff');
  const form = await findForm('/machines/laser/lockout', ['/', '/machines', '/machines/laser']);
  await fill(form, ['reason'], 'smoke from the lens');
  await submit(form);
  const cut = await (async () => {
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      if ((await rig.output('laser.relay')) === 'off') return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  })();
  assert.ok(cut, 'labgated switched the laser relay off within 2 s of the lockout');
  await page.goto(url('/'));
  // The interlock's state name for a machine staff locked out is out_of_service.
  assert.match(await page.getAttribute('[data-machine="laser"]', 'data-state') ?? '', /lock|out_of_service/i,
    'the live page shows the laser locked out');
  await screenshot(t, page, 'machine-locked-out');

  const release = await findForm('/machines/laser/release', ['/', '/machines', '/machines/laser']);
  await submit(release);
  await page.goto(url('/'));
  assert.doesNotMatch(await page.getAttribute('[data-machine="laser"]', 'data-state') ?? '', /lock|out_of_service/i,
    'after release the laser is no longer locked out');
  await rig.remove('laser');
});

scenario('desk staff are refused a manager page', async () => {
  await login('desk');
  // Roles hold on the server, not by hidden buttons: a staff action posted by hand with the
  // desk session's own CSRF token is refused and changes nothing.
  await page.goto(url('/'));
  const csrf = await page.getAttribute('input[name="csrf"]', 'value');
  assert.ok(csrf, 'the desk session\'s pages carry a CSRF token');
  const posted = await page.request.post(url('/machines/laser/lockout'),
    { form: { csrf, reason: 'desk tries' }, maxRedirects: 0 });
  assert.equal(posted.status(), 403, 'desk staff POST /machines/laser/lockout');
  await page.goto(url('/'));
  assert.doesNotMatch(await page.getAttribute('[data-machine="laser"]', 'data-state') ?? '', /lock|out_of_service/i,
    'the refused lockout left the laser in service');

  for (const p of ['/audit', '/audit?page=2']) {
    const res = await page.goto(url(p));
    assert.equal(res.status(), 403, `desk staff GET ${p}`);
  }
  await screenshot(t, page, 'forbidden');
});

scenario('the Japanese UI shows', async () => {
  await login('desk');
  await page.goto(url('/?lang=ja'));
  assert.equal(await page.getAttribute('html', 'lang'), 'ja');
  assert.match(await page.textContent('body'), /[\u3040-\u30ff\u4e00-\u9fff]/, 'Japanese text on the live page');
  await screenshot(t, page, 'live-ja');
  await page.goto(url('/members?lang=ja'));
  assert.equal(await page.getAttribute('html', 'lang'), 'ja');
  await screenshot(t, page, 'members-ja');
  await page.goto(url('/?lang=en'));
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
});
