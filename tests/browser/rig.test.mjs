// The browser suite's own rig, without the console: labgated reads a card from pn532-emu through
// libnfc and drives its relay, and Debian's chromium renders a page served on loopback. When this
// fails, browser.console cannot pass either; this says which part of the rig is broken.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { Rig, launchBrowser, screenshot, tools } from './harness.mjs';

const t = tools();
const rig = new Rig(t);
let browser;

before(async () => {
  await rig.start({ console: false });
  browser = await launchBrowser(t);
});

after(async () => {
  await browser?.close();
  await rig.stop();
});

test('labgated grants a certified card on the emulated laser reader and powers the relay', async () => {
  assert.equal(await rig.output('laser.relay'), 'off');
  const decision = await rig.place('laser', '04000001');
  assert.match(decision, /^granted laser M0001 /);
  assert.equal(await rig.output('laser.relay'), 'on');
  await rig.remove('laser');
});

test('an unknown card at the front door is refused and the strike stays shut', async () => {
  const decision = await rig.place('front-in', '04ABCDEF');
  assert.match(decision, /^denied /);
  assert.equal(await rig.output('front.strike'), 'off');
  await rig.remove('front-in');
});

test('chromium renders a page served on loopback, Japanese included', async () => {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="ja"><title>rig</title><h1 id="h">入館記録</h1>' +
      '<script>document.getElementById("h").dataset.ran = "yes"</script></html>');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const page = await browser.context.newPage();
    const res = await page.goto(`http://127.0.0.1:${server.address().port}/`);
    assert.equal(res.status(), 200);
    assert.equal(await page.getAttribute('html', 'lang'), 'ja');
    assert.equal(await page.textContent('#h'), '入館記録');
    assert.equal(await page.getAttribute('#h', 'data-ran'), 'yes');
    await screenshot(t, page, 'rig-loopback-page');
    await page.close();
  } finally {
    server.close();
  }
});
