// The rig of the real-browser suite: a mosquitto broker on a free loopback port, one pn532-emu
// per NFC reader, the real labgated reading them through libnfc, labgatectl seeding the site,
// the real labgate-console on a free loopback port, and Debian's chromium driven by
// playwright-core. Every path comes from the environment CTest sets (tests/browser/CMakeLists.txt);
// a missing one is an error, never a reason to skip.
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';

/** The programs and folders the suite needs, from the environment; throws naming what is missing. */
export function tools() {
  const names = {
    labgated: 'LABGATED',
    labgatectl: 'LABGATECTL',
    pn532Emu: 'PN532_EMU',
    mosquitto: 'MOSQUITTO',
    chromium: 'CHROMIUM',
    out: 'LABGATE_BROWSER_OUT',
  };
  const t = {};
  for (const [key, env] of Object.entries(names)) {
    t[key] = process.env[env];
    if (!t[key]) throw new Error(`${env} is not set: run the suite through ctest (browser.*)`);
  }
  for (const key of ['labgated', 'labgatectl', 'pn532Emu', 'mosquitto', 'chromium']) {
    try {
      fs.accessSync(t[key], fs.constants.X_OK);
    } catch {
      const hint = key === 'chromium' ? ' (Debian package chromium: ./scripts/install-deps.sh --test)' : '';
      throw new Error(`${names[key]}=${t[key]} is not an executable${hint}`);
    }
  }
  t.console = process.env.LABGATE_CONSOLE || '';
  t.consoleStatic = process.env.LABGATE_CONSOLE_STATIC || '';
  return t;
}

/** A port on 127.0.0.1 that nothing listened on a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function portAccepts(port) {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Polls `probe` (async, truthy when done) every `stepMs` until `timeoutMs`; the last value. */
export async function waitFor(probe, timeoutMs, stepMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v || Date.now() > deadline) return v;
    await sleep(stepMs);
  }
}

/** One request on a line-protocol Unix socket (labgated's control socket, pn532-emu's). */
export function lineRequest(socketPath, line, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`${socketPath}: no reply to "${line}" within ${timeoutMs} ms`));
    }, timeoutMs);
    c.setEncoding('utf8');
    c.once('connect', () => c.write(line + '\n'));
    c.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        c.end();
        resolve(buf.slice(0, nl));
      }
    });
    c.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** A child process with its output in a log file; stop() sends SIGTERM and waits. */
class Child {
  constructor(argv, logPath, env = {}) {
    this.argv = argv;
    this.logPath = logPath;
    const out = fs.openSync(logPath, 'a');
    this.proc = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', out, out],
      env: { ...process.env, ...env },
    });
    fs.closeSync(out);
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    this.running = true;
    this.exited.then(() => {
      this.running = false;
    });
  }

  log() {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  async stop(timeoutMs = 10000) {
    if (!this.running) return this.exited;
    this.proc.kill('SIGTERM');
    let timer;
    const r = await Promise.race([this.exited,
      new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); })]);
    clearTimeout(timer);  // a pending timer would keep node (and the test) alive for its length
    if (r) return r;
    this.proc.kill('SIGKILL');
    return this.exited;
  }
}

/** Runs a program to completion; {code, stdout, stderr}. */
export function run(argv, { input, env } = {}) {
  return new Promise((resolve) => {
    const p = execFile(argv[0], argv.slice(1), { env: { ...process.env, ...env }, maxBuffer: 1 << 24 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
    if (input !== undefined) p.stdin.end(input);
  });
}

// Today in the site's time zone (YYYY-MM-DD): seeded dates are relative to the daemon's real clock.
function todayInTokyo() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo' }).format(new Date());
}

// The site: door "front" (entry reader front-in, an emulated PN532), machine "laser" (card stays
// on its emulated reader while it runs), and "desk", the emulated desk reader cards are enrolled on.
// With `rooms`, meeting room "room-a" (its door's entry reader room-in, an emulated PN532) and two
// lockers: open all day every day with a 15-minute grid, and the door admits a booking from an
// hour before its start, so a slot booked a few minutes ahead opens the door at once.
function siteConfig(dir, readers, mqttPort, rooms) {
  const reader = (id, extra = '') =>
    `[[readers]]\nid = "${id}"\ndevice = "pn532_uart:${readers[id]}"\n${extra}\n`;
  return `[site]
id = "browser"
gateway = "gw-browser"
timezone = "Asia/Tokyo"
key = "${randomBytes(32).toString('hex')}"
accept = ["iso14443a", "felica"]

[store]
path = "${dir}/lab.db"
busy_timeout_ms = 200
heartbeat_ms = 1000

[control]
socket = "${dir}/ctl.sock"

[admin]
socket = "${dir}/admin.sock"

[log]
level = "debug"

[mqtt]
enabled = true
host = "127.0.0.1"
port = ${mqttPort}

${reader('front-in')}
${reader('laser')}
${reader('desk', 'role = "desk"')}
[[doors]]
id = "front"
name = "Front door"
entry_reader = "front-in"
strike = "sim"
contact = "sim"
fail_mode = "secure"
strike_pulse_s = 5
held_open_s = 30
presence = true

[[machines]]
id = "laser"
name = "Laser"
reader = "laser"
relay = "sim"
certification = "laser"
mode = "card_stays"
grace_s = 10
idle_timeout_s = 600
max_session_s = 7200
inspection_interval_days = 90
${rooms ? roomsConfig(reader) : ''}`;
}

function roomsConfig(reader) {
  return `
${reader('room-in')}
[[doors]]
id = "room-a"
name = "Meeting room A"
entry_reader = "room-in"
strike = "sim"
presence = false

[[rooms]]
id = "room-a"
name = "Meeting room A"
door = "room-a"
capacity = 4
hours = "daily 00:00-24:00"
holidays = true
closure = true
grid_minutes = 15
early_entry_minutes = 60
no_show_minutes = 30
rate_per_hour = 1200

[[lockers]]
id = "locker-1"
name = "Locker 1"
rate_per_month = 1500

[[lockers]]
id = "locker-2"
name = "Locker 2"
rate_per_month = 1500
`;
}

/** The emulator's "place" words for a card UID (4 bytes: MIFARE Classic, 7: Ultralight). */
export function emulatorCard(uidHex) {
  if (uidHex.length === 8) return `classic ${uidHex}`;
  if (uidHex.length === 14) return `ultralight ${uidHex}`;
  throw new Error(`no emulated card for UID ${uidHex}`);
}

/** The whole rig; start() brings it up, stop() takes it down (also after a failed start). */
export class Rig {
  /** `rooms`: the site has meeting room "room-a" on emulated reader room-in, and two lockers. */
  constructor(t, { rooms = false } = {}) {
    this.t = t;
    this.rooms = rooms;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labgate-browser-'));
    this.children = [];
    this.readers = {};
    // Passwords of this run only: never a default.
    this.accounts = {
      desk: { role: 'desk', name: 'Desk', password: randomBytes(12).toString('base64url') },
      trainer: { role: 'trainer', name: 'Trainer Tanaka', password: randomBytes(12).toString('base64url') },
      staff: { role: 'staff', name: 'Lab staff', password: randomBytes(12).toString('base64url') },
      manager: { role: 'manager', name: 'Centre manager', password: randomBytes(12).toString('base64url') },
    };
  }

  get socket() {
    return path.join(this.dir, 'ctl.sock');
  }
  get config() {
    return path.join(this.dir, 'site.toml');
  }

  /** The logs of every process so far, for failure messages. */
  logs() {
    return this.children
      .map((c) => `--- ${path.basename(c.argv[0])} (${c.logPath})\n${c.log().split('\n').slice(-40).join('\n')}`)
      .join('\n');
  }

  async startBroker() {
    this.mqttPort = await freePort();
    const conf = path.join(this.dir, 'mosquitto.conf');
    let text = `listener ${this.mqttPort} 127.0.0.1\nallow_anonymous true\npersistence false\n` +
      `log_dest file ${this.dir}/mosquitto.log\n`;
    // As root, mosquitto drops to user "mosquitto" and then cannot write the temp dir.
    if (process.getuid() === 0) text += 'user root\n';
    fs.writeFileSync(conf, text);
    const c = new Child([this.t.mosquitto, '-c', conf], path.join(this.dir, 'mosquitto.stderr'));
    this.children.push(c);
    if (!(await waitFor(async () => !c.running || (await portAccepts(this.mqttPort)), 10000)) || !c.running) {
      throw new Error(`mosquitto did not start on 127.0.0.1:${this.mqttPort}\n${this.logs()}`);
    }
  }

  async startEmulators(ids) {
    const cards = path.join(this.dir, 'cards');
    fs.mkdirSync(cards, { recursive: true });
    for (const id of ids) {
      const link = path.join(this.dir, `pn532-${id}`);
      const sock = path.join(this.dir, `emu-${id}.sock`);
      const c = new Child([this.t.pn532Emu, '--link', link, '--control', sock, '--cards', cards],
        path.join(this.dir, `emu-${id}.log`));
      this.children.push(c);
      this.readers[id] = { link, sock, child: c };
    }
    for (const id of ids) {
      const ok = await waitFor(async () => (await this.emu(id, 'status').catch(() => '')).startsWith('ok'), 10000, 50);
      if (!ok) throw new Error(`pn532-emu ${id} did not start\n${this.logs()}`);
    }
  }

  /** One command to a reader's emulator ("place classic 04000001", "remove", "status"). */
  emu(id, line) {
    return lineRequest(this.readers[id].sock, line);
  }

  /** One command to labgated's control socket ("output laser.relay", "confirm laser"). */
  control(line) {
    return lineRequest(this.socket, line);
  }

  /** labgatectl on the site's database as the setup account; throws with its output on failure. */
  async ctl(args, { input, actor = 'setup' } = {}) {
    const argv = [this.t.labgatectl, '--config', this.config, '--actor', actor, ...args];
    const r = await run(argv, { input });
    if (r.code !== 0) {
      throw new Error(`labgatectl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    }
    return r.stdout;
  }

  async seed() {
    // The first account is made by its owner declaring it.
    await this.ctl(['--create', 'users', 'add', '--login', 'setup', '--name', 'Setup', '--role', 'admin']);
    // The audit record's sealing key beside the database: labgated never runs without one.
    await this.ctl(['audit', 'setup', '--no-qr']);
    await this.ctl(['plans', 'add', '--code', 'all', '--name', 'All hours', '--windows', '24h',
      '--holidays-allowed', '--closure-allowed']);
    await this.ctl(['cert-types', 'add', '--code', 'laser', '--name', 'Laser cutter', '--validity-days', '365']);
    await this.ctl(['machines', 'add', '--id', 'laser', '--name', 'Laser', '--cert-type', 'laser',
      '--mode', 'hold', '--inspection-days', '90']);
    await this.ctl(['machines', 'inspect', '--id', 'laser', '--inspector', 'Inspector', '--result', 'pass',
      '--date', todayInTokyo()]);
    // M0001: an active member with a card and the laser certification (the rig's own check).
    await this.ctl(['members', 'add', '--no', 'M0001', '--name', 'Aiko Tanaka', '--plan', 'all']);
    await this.ctl(['members', 'approve', '--no', 'M0001']);
    await this.ctl(['credentials', 'enroll', '--member', 'M0001', '--tech', 'iso14443a', '--id', '04000001',
      '--label', 'member card']);
    await this.ctl(['certs', 'grant', '--member', 'M0001', '--type', 'laser', '--trainer', 'Trainer Tanaka',
      '--date', todayInTokyo()]);
    // M0002: an active member with a card and no certification (a trainer grants one in the suite).
    await this.ctl(['members', 'add', '--no', 'M0002', '--name', 'Yuki Suzuki', '--plan', 'all']);
    await this.ctl(['members', 'approve', '--no', 'M0002']);
    await this.ctl(['credentials', 'enroll', '--member', 'M0002', '--tech', 'iso14443a', '--id', '04000002',
      '--label', 'member card']);
    // The demo day's acrylic sheet (config/demo-day.txt), sold at the desk in the money suite.
    await this.ctl(['prices', 'set', '--code', 'acrylic-3mm', '--name', 'アクリル板 3mm (Acrylic sheet)',
      '--price', '450']);
  }

  /** The console's accounts, with the passwords of this run on standard input. */
  async seedAccounts() {
    for (const [login, a] of Object.entries(this.accounts)) {
      await this.ctl(['users', 'add', '--login', login, '--name', a.name, '--role', a.role, '--password-stdin'],
        { input: a.password + '\n' });
    }
  }

  async startDaemon() {
    const args = [this.t.labgated, '--config', this.config];
    const d = new Child(args, path.join(this.dir, 'labgated.log'), {
      LIBNFC_AUTO_SCAN: 'false', LIBNFC_INTRUSIVE_SCAN: 'false', LIBNFC_LOG_LEVEL: '0',
    });
    this.children.push(d);
    this.daemon = d;
    const up = await waitFor(async () => {
      if (!d.running) return true;
      const r = await this.control('status').catch(() => '');
      return r.startsWith('ok |') && r.includes('site fault=');
    }, 15000, 50);
    if (!up || !d.running) throw new Error(`labgated did not come up\n${this.logs()}`);
    // A machine stays off after start-up until someone confirms it is safe.
    const confirmed = await this.control('confirm laser');
    if (confirmed !== 'ok confirm laser') throw new Error(`confirm laser: ${confirmed}`);
    // Every emulated tap reader answers through libnfc before the suite taps.
    for (const id of ['front-in', 'laser', ...(this.rooms ? ['room-in'] : [])]) {
      const ok = await waitFor(async () => (await this.control(`read-result ${id}`).catch(() => '')).startsWith('ok'), 15000, 50);
      if (!ok) throw new Error(`labgated never read reader ${id}\n${this.logs()}`);
    }
  }

  /**
   * Places a card on a reader's emulator and waits until labgated acknowledged the read (its
   * read-result command); returns the decision summary ("granted front M0001 granted seq=7").
   * The card stays on the reader.
   */
  async place(reader, uidHex, timeoutMs = 5000) {
    const before = await this.control(`read-result ${reader}`);
    const m = /reads=(\d+)/.exec(before);
    if (!m) throw new Error(`read-result ${reader}: ${before}`);
    const placed = await this.emu(reader, `place ${emulatorCard(uidHex)}`);
    if (!placed.startsWith('ok placed')) throw new Error(`pn532-emu ${reader}: ${placed}`);
    let reply = '';
    const ok = await waitFor(async () => {
      reply = await this.control(`read-result ${reader} ${m[1]}`);
      return reply !== 'err pending';
    }, timeoutMs, 5);
    if (!ok) throw new Error(`no decision on ${reader} within ${timeoutMs} ms\n${this.logs()}`);
    if (!reply.startsWith('ok read=')) throw new Error(`read-result ${reader}: ${reply}`);
    return reply.replace(/^ok read=\d+ ?/, '');
  }

  /** Takes the card off a reader and waits until labgated handled the removal. */
  async remove(reader, timeoutMs = 5000) {
    const removals = (r) => /removals=(\d+)/.exec(r)?.[1];
    const before = removals(await this.control(`read-result ${reader}`));
    const r = await this.emu(reader, 'remove');
    if (!r.startsWith('ok')) throw new Error(`pn532-emu ${reader}: ${r}`);
    const ok = await waitFor(async () => removals(await this.control(`read-result ${reader}`)) !== before, timeoutMs, 10);
    if (!ok) throw new Error(`labgated did not see the card leave ${reader}`);
  }

  /** "on" or "off": the simulated output as labgated drives it ("laser.relay", "front.strike"). */
  async output(name) {
    const r = await this.control(`output ${name}`);
    const m = new RegExp(`^ok ${name.replace('.', '\\.')} (on|off)$`).exec(r);
    if (!m) throw new Error(`output ${name}: ${r}`);
    return m[1];
  }

  /** Starts labgate-console on a free loopback port; its base URL. */
  async startConsole() {
    if (!this.t.console) {
      throw new Error('labgate-console is not part of this build (no labgate-console target): ' +
        'the browser suite needs it');
    }
    if (!this.t.consoleStatic || !fs.existsSync(path.join(this.t.consoleStatic, 'htmx.min.js'))) {
      throw new Error(`LABGATE_CONSOLE_STATIC=${this.t.consoleStatic} holds no htmx.min.js ` +
        '(./scripts/install-deps.sh runs npm ci; the build copies it)');
    }
    const log = path.join(this.dir, 'console.log');
    const c = new Child([this.t.console, '--config', this.config, '--listen', '127.0.0.1:0',
      '--static', this.t.consoleStatic], log);
    this.children.push(c);
    let url = null;
    await waitFor(() => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(c.log());
      url = m ? m[1] : null;
      return url || !c.running;
    }, 15000, 50);
    if (!url) throw new Error(`labgate-console did not report "listening on http://127.0.0.1:PORT"\n${this.logs()}`);
    this.console = c;
    this.url = url;
    return url;
  }

  async start({ console: withConsole = true } = {}) {
    if (withConsole && !this.t.console) {
      throw new Error('labgate-console is not part of this build (no labgate-console target): ' +
        'the browser suite needs it');
    }
    await this.startBroker();
    await this.startEmulators(['front-in', 'laser', 'desk', ...(this.rooms ? ['room-in'] : [])]);
    fs.writeFileSync(this.config, siteConfig(this.dir, Object.fromEntries(
      Object.entries(this.readers).map(([id, r]) => [id, r.link])), this.mqttPort, this.rooms),
    { mode: 0o600 });
    await this.seed();
    if (withConsole) await this.seedAccounts();
    await this.startDaemon();
    if (withConsole) await this.startConsole();
  }

  /** Stops everything, newest first; keeps the folder when LABGATE_BROWSER_KEEP=1. */
  async stop() {
    for (const c of [...this.children].reverse()) await c.stop();
    if (process.env.LABGATE_BROWSER_KEEP === '1') {
      console.log(`rig kept in ${this.dir}`);
    } else {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** Chromium (Debian's, never a downloaded one) with a fresh profile; {context, close()}. */
export async function launchBrowser(t) {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error(`playwright-core is not installed (./scripts/install-deps.sh --test runs npm ci): ${e.message}`);
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'labgate-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: t.chromium,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
      locale: 'en-US',
    });
  } catch (e) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw new Error(`chromium (${t.chromium}) did not start: ${e.message}`);
  }
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot as <out>/screenshots/<name>.png; its path. */
export async function screenshot(t, page, name) {
  const dir = path.join(t.out, 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * One suite on one rig and one browser page, started before its tests and stopped after them.
 * `scenario(name, body)` is a test that, when it fails, saves what the page showed as
 * screenshots/FAILED-<prefix>-<name>.png (this run's only: older ones are removed at start);
 * `login(who)` logs one of the rig's accounts in through the login form, in English;
 * `follow(locator)` clicks and waits for the page it leads to.
 */
export function browserSuite(t, prefix, rigOptions = {}) {
  const s = { rig: new Rig(t, rigOptions), browser: null, page: null };
  before(async () => {
    const shots = path.join(t.out, 'screenshots');
    if (fs.existsSync(shots)) {
      for (const f of fs.readdirSync(shots)) {
        if (f.startsWith(`FAILED-${prefix}-`)) fs.rmSync(path.join(shots, f));
      }
    }
    await s.rig.start();
    s.browser = await launchBrowser(t);
    s.page = await s.browser.context.newPage();
  });
  after(async () => {
    await s.browser?.close();
    await s.rig.stop();
  });
  s.url = (p) => s.rig.url + p;
  s.scenario = (name, body) => test(name, async () => {
    try {
      await body();
    } catch (e) {
      const slug = name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
      if (s.page) await screenshot(t, s.page, `FAILED-${prefix}-${slug}`).catch(() => {});
      throw e;
    }
  });
  s.follow = async (locator) => {
    await Promise.all([s.page.waitForNavigation({ timeout: 10000 }), locator.click()]);
  };
  s.login = async (who) => {
    await s.browser.context.clearCookies();
    await s.page.goto(s.url('/login?lang=en'));
    await s.page.fill('#login', who);
    await s.page.fill('#password', s.rig.accounts[who].password);
    await s.follow(s.page.locator('form:has(#password) button[type=submit]'));
    if (new URL(s.page.url()).pathname !== '/') throw new Error(`${who} did not log in: ${s.page.url()}`);
  };
  return s;
}
