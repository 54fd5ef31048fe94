// Book a slot, tap in: desk staff book a meeting room for a member on the console's room
// calendar in a real browser (Debian's chromium driven by playwright-core), and the member's card
// on the room's emulated PN532 is then granted by the real labgated; a member without a booking
// is refused at the same reader. Then the locker map: a locker lent from the map shows its holder.
// What the browser did is checked where it lands: labgated's decisions (its control socket) and
// the store (labgatectl).
import assert from 'node:assert/strict';

import { browserSuite, screenshot, tools } from './harness.mjs';

const t = tools();
const suite = browserSuite(t, 'rooms', { rooms: true });
const { rig, scenario, login, follow } = suite;
const url = (p) => suite.url(p);

// Seeded by the rig (tests/browser/harness.mjs).
const BOOKER = { no: 'M0002', card: '04000002' };
const OTHER = { no: 'M0001', card: '04000001' };

// "2026-12-07T10:15" in the site's zone (Asia/Tokyo, no daylight saving) as a Date.
const slotDate = (slot) => new Date(`${slot}:00+09:00`);

function tokyoDay(offsetDays) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo' })
    .format(new Date(Date.now() + offsetDays * 86400000));
}

scenario('book a slot, tap in', async () => {
  const { page } = suite;
  await login('desk');
  await follow(page.locator('nav a[href="/rooms"]'));
  await follow(page.locator('#rooms a[href="/rooms/room-a"]'));
  // The first free slot at least five minutes ahead (so it is still ahead when the form is
  // sent); late in the evening that is tomorrow's. The door admits it from an hour before.
  let slot = null;
  for (const day of [0, 1]) {
    if (day === 1) await page.goto(url(`/rooms/room-a?date=${tokyoDay(1)}`));
    const free = await page.locator('#calendar td.free').evaluateAll(
      (cells) => cells.map((c) => c.getAttribute('data-slot')));
    slot = free.find((s) => slotDate(s).getTime() >= Date.now() + 5 * 60000) ?? null;
    if (slot) break;
  }
  assert.ok(slot, 'the calendar offers a free slot in the next day');
  assert.ok(slotDate(slot).getTime() - Date.now() < 50 * 60000, `slot ${slot} is within the early entry`);
  await screenshot(t, page, 'rooms-calendar');

  // A click on the free slot opens its booking form; the member is found by the lookup.
  await follow(page.locator(`#calendar td.free[data-slot="${slot}"] a.book`));
  await page.fill('#member-lookup input[name="q"]', BOOKER.no);
  await follow(page.locator('#member-lookup button[type=submit]'));
  await follow(page.locator(`#lookup li[data-member="${BOOKER.no}"] a`));
  assert.equal(await page.inputValue('#book-member'), BOOKER.no, 'the lookup fills in the member');
  assert.equal(await page.inputValue('#book-form input[name="start"]'), slot);
  await page.selectOption('#book-form select[name="minutes"]', '30');
  await follow(page.locator('#book-submit'));

  const booked = page.locator(`#calendar td.booked[data-slot="${slot}"]`);
  assert.equal(await booked.count(), 1, `the calendar shows ${slot} booked, at ${page.url()}`);
  assert.equal(await booked.getAttribute('data-member'), BOOKER.no);
  await screenshot(t, page, 'rooms-calendar-booked');
  const list = await rig.ctl(['bookings', 'list', '--room', 'room-a', '--member', BOOKER.no]);
  assert.match(list, new RegExp(BOOKER.no), `labgatectl lists the booking:\n${list}`);

  // The member taps at the room's reader: granted, inside the booking's window.
  const granted = await rig.place('room-in', BOOKER.card);
  assert.match(granted, /^granted /, `the booking's member at room-in: ${granted}`);
  await rig.remove('room-in');
  // Someone not named on the booking is refused at the same reader.
  const refused = await rig.place('room-in', OTHER.card);
  assert.doesNotMatch(refused, /^granted /, `a member without a booking at room-in: ${refused}`);
  assert.match(refused, /outside_booking/, `refused with its own reason: ${refused}`);
  await rig.remove('room-in');

  // Booking the same slot again is refused with its reason.
  await page.goto(url(`/rooms/room-a/book?start=${slot}&member=${OTHER.no}`));
  await follow(page.locator('#book-submit'));
  assert.equal(await page.locator('#refusal').getAttribute('data-code'), 'overlap');
});

scenario('the locker map: lend a locker from the map', async () => {
  const { page } = suite;
  await login('desk');
  await follow(page.locator('nav a[href="/lockers"]'));
  assert.equal(await page.locator('[data-locker="locker-1"]').getAttribute('data-state'), 'free');
  const form = page.locator('[data-locker="locker-1"] form.lend');
  await form.locator('input[name="member_no"]').fill(OTHER.no);
  await form.locator('input[name="until"]').fill(tokyoDay(30));
  await follow(form.locator('button[type=submit]'));
  const locker = page.locator('[data-locker="locker-1"]');
  assert.equal(await locker.getAttribute('data-state'), 'lent');
  assert.match(await locker.locator('.holder').innerText(), new RegExp(OTHER.no));
  await screenshot(t, page, 'rooms-locker-map');
  const list = await rig.ctl(['lockers', 'list']);
  assert.match(list, new RegExp(`locker-1.*${OTHER.no}`), `labgatectl lists the loan:\n${list}`);
});
