// End-to-end test of the dashboard (SPEC §9): the release binary serves the built-in demo
// catalog, we send it traffic, headless Chromium loads `/`, and we wait (polling against a
// deadline) until every provider and live figures are on the page; then a full-page screenshot.
// A second gateway with `[auth]` checks the key form. Exit code 0 only when every check passed.
//
//   node dashboard.test.mjs            (from tests/browser, after `npm ci`)
//   SWITCHYARD_BIN=...  ARTIFACTS=...  CHROMIUM=...   override the defaults
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.resolve(ROOT, process.env.SWITCHYARD_BIN || 'target/release/switchyard');
const ARTIFACTS = path.resolve(ROOT, process.env.ARTIFACTS || 'target/artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PROVIDERS = ['swiftcloud', 'budgetgpu', 'steadyai', 'flakyhost'];
const MODELS = ['meta-llama/llama-4-scout', 'openai/gpt-4o-mini', 'mistralai/mistral-small', 'google/gemma-3-27b'];
const REQUESTS = 30;
const MASTER = 'sy-browser-test-master-key';

const results = [];
const cleanups = [];

function log(msg) { process.stdout.write(`browser-test: ${msg}\n`); }

async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    results.push({ name, ok: false });
    log(`FAIL ${name}: ${err && err.stack ? err.stack : err}`);
  }
}

function assert(cond, msg) { if (!cond) throw new Error(msg); }

/** Retries `probe` until it returns a truthy value or the deadline passes; no fixed sleeps. */
async function until(what, probe, timeoutMs = 30000, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last && last.ok !== false) return last;
    } catch (err) { last = err; }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(last, null, 1)}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Starts `switchyard serve` on an ephemeral port in `dir`; resolves with its base URL. */
async function startGateway(name, dir, extraArgs = []) {
  const logPath = path.join(ARTIFACTS, `${name}.log`);
  const logFile = fs.openSync(logPath, 'w');
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' };
  delete env.SWITCHYARD_LISTEN;
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', ...extraArgs], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (b) => { out += b.toString(); fs.writeSync(logFile, b); };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let exited = null;
  child.on('exit', (code, sig) => { exited = `exited with ${code ?? sig}`; });
  cleanups.push(async () => {
    if (exited === null) {
      child.kill('SIGTERM');
      await until(`${name} to stop`, () => exited !== null, 10000, 50).catch(() => child.kill('SIGKILL'));
    }
    fs.closeSync(logFile);
  });
  const addr = await until(`${name} to listen (log: ${logPath})`, () => {
    if (exited) throw new Error(`${name} ${exited}: ${out.slice(-2000)}`);
    const m = /switchyard serving.*?(127\.0\.0\.1:\d+)/.exec(out);
    return m && m[1];
  }, 20000, 50);
  const base = `http://${addr}`;
  await until(`${name} /health`, async () => (await fetch(`${base}/health`)).ok, 10000, 100);
  log(`${name} at ${base} (log: ${logPath})`);
  return base;
}

async function chat(base, body, key) {
  const headers = { 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${base}/api/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  let id = null;
  if (body.stream) {
    const m = /"id"\s*:\s*"(gen-[^"]+)"/.exec(text);
    id = m && m[1];
  } else {
    try { id = JSON.parse(text).id || null; } catch { /* error body */ }
  }
  return { status: res.status, id };
}

/** ~30 chat requests, a third streamed: first one asking each endpoint of the catalog first (so
 * every provider has traffic), then the rest over every model with the default routing. */
async function sendTraffic(base) {
  const catalog = await (await fetch(`${base}/api/v1/dashboard`)).json();
  // chat requests go to chat models (an embedding model answers /embeddings only)
  const endpoints = catalog.models.filter((m) => m.kind !== 'embedding')
    .flatMap((m) => m.endpoints.map((e) => ({ model: m.id, provider: e.provider })));
  assert(endpoints.length > 0 && endpoints.length < REQUESTS, `unexpected catalog: ${endpoints.length} endpoints`);
  const jobs = [];
  for (let i = 0; i < REQUESTS; i += 1) {
    const ep = endpoints[i];
    const body = {
      model: ep ? ep.model : MODELS[i % MODELS.length],
      messages: [{ role: 'user', content: `dashboard test request ${i}: say something short` }],
      max_tokens: 32,
      stream: i % 3 === 0,
    };
    if (ep) body.provider = { order: [ep.provider] };
    jobs.push(body);
  }
  const sent = [];
  const workers = Array.from({ length: 5 }, async () => {
    while (jobs.length) {
      const body = jobs.shift();
      sent.push(await chat(base, body));
    }
  });
  await Promise.all(workers);
  return sent;
}

async function launch() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-chromium-'));
  cleanups.push(async () => fs.rmSync(userDataDir, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    timezoneId: 'UTC',
    locale: 'en-GB',
  });
  cleanups.push(async () => context.close());
  return context;
}

/** A page that records console errors and every request that leaves the gateway's origin. */
async function watchedPage(context, base) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(`${base}/`) && !u.startsWith('data:')) problems.push(`external request: ${u}`);
  });
  return { page, problems };
}

/** What the dashboard shows, read from the DOM. */
function readDashboard() {
  const text = (sel) => Array.from(document.querySelectorAll(sel)).map((e) => e.textContent.trim());
  const perProvider = {};
  for (const row of document.querySelectorAll('section.model tbody tr')) {
    const provider = row.querySelector('.provider')?.textContent.trim();
    const cells = row.querySelectorAll('td');
    const requests = Number((cells[6]?.textContent || '0').replace(/,/g, '')) || 0;
    if (provider) perProvider[provider] = (perProvider[provider] || 0) + requests;
  }
  const canvases = Array.from(document.querySelectorAll('.chart-body canvas'));
  const drawn = canvases.filter((c) => {
    if (!c.width || !c.height) return false;
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < px.length; i += 4 * 97) if (px[i] > 0) return true;
    return false;
  }).length;
  return {
    live: document.getElementById('live').dataset.state,
    dashVisible: !document.getElementById('dash').hidden,
    authVisible: !document.getElementById('auth').hidden,
    models: text('section.model .model-id'),
    perProvider,
    tiles: Object.fromEntries(Array.from(document.querySelectorAll('.tile')).map((t) => [t.querySelector('.label').textContent, t.querySelector('.value').textContent])),
    canvases: canvases.length,
    drawn,
    requestIds: Array.from(document.querySelectorAll('#requests tbody tr')).map((r) => r.dataset.id),
    routes: document.querySelectorAll('#requests .hop').length,
    keysVisible: !document.getElementById('keys-card').hidden,
    keyLabels: text('#keys tbody tr td:first-child'),
    keyGuardrails: text('#keys tbody tr td.guardrails'),
  };
}

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  assert(fs.existsSync(BIN), `no gateway binary at ${BIN}: run \`cargo build --release -p switchyard\``);
  assert(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-browser-'));
  cleanups.push(async () => fs.rmSync(work, { recursive: true, force: true }));
  const demoDir = path.join(work, 'demo');
  fs.mkdirSync(demoDir);

  const base = await startGateway('gateway-demo', demoDir);
  let sent = [];
  let context;
  let demoData;

  await check('the demo gateway answers ~30 chat requests (a third streamed)', async () => {
    // a labelled key, so the keys table has a row (an open gateway lets anyone manage keys)
    const k = await fetch(`${base}/api/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ label: 'browser-test', limit: 5, limit_reset: 'daily', tpm: 100000, expires_at: '2099-01-01T00:00:00Z' }) });
    assert(k.status === 201, `creating a key answered ${k.status}`);
    sent = await sendTraffic(base);
    const ok = sent.filter((s) => s.status === 200).length;
    log(`sent ${sent.length} requests: ${ok} answered 200, ${sent.filter((s) => s.id).length} with an id`);
    assert(ok >= REQUESTS - 5, `only ${ok} of ${sent.length} requests succeeded`);
  });

  await check('GET /api/v1/dashboard: figures for every endpoint, no secret', async () => {
    const res = await fetch(`${base}/api/v1/dashboard`);
    assert(res.status === 200, `status ${res.status}`);
    assert((res.headers.get('content-type') || '').startsWith('application/json'), 'not JSON');
    const raw = await res.text();
    demoData = JSON.parse(raw);
    const names = new Set();
    const walk = (v) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { names.add(k); walk(x); }
    };
    walk(demoData);
    const leaked = ['base_url', 'api_key', 'secret', 'key', 'hash', 'key_hash', 'master_key', 'message', 'headers'].filter((n) => names.has(n));
    assert(leaked.length === 0, `the JSON has secret-bearing fields: ${leaked}`);
    assert(!/\/p\/swiftcloud|https?:\/\//.test(raw), 'the JSON carries an upstream URL');
    const eps = demoData.models.flatMap((m) => m.endpoints);
    for (const p of PROVIDERS) assert(eps.some((e) => e.provider === p && e.requests > 0), `no traffic recorded for ${p}`);
    assert(demoData.series_t.length === 180, `series has ${demoData.series_t.length} buckets`);
    assert(eps.every((e) => e.series.successes.length === 180), 'an endpoint series is not 180 buckets');
    assert(demoData.requests.length >= Math.min(REQUESTS, 50) - 1, `only ${demoData.requests.length} requests listed`);
    assert(demoData.requests.every((r) => Array.isArray(r.attempts) && r.attempts.length > 0), 'a request without its route');
    assert(demoData.totals.spend > 0, 'no spend');
    assert(demoData.keys && demoData.keys.data.some((k) => k.label === 'browser-test'), 'the key list is missing on an open gateway');
    const bt = demoData.keys.data.find((k) => k.label === 'browser-test');
    assert(bt.limit_reset === 'daily' && bt.tpm === 100000 && typeof bt.usage_daily === 'number', `the key list lacks the guardrails: ${JSON.stringify(bt)}`);
  });

  await check('dashboard assets: whitelisted files with content types, everything else 404 JSON', async () => {
    const page = await fetch(`${base}/`);
    assert(page.status === 200 && page.headers.get('content-type').startsWith('text/html'), 'GET / is not HTML');
    assert(/default-src 'self'/.test(page.headers.get('content-security-policy') || ''), 'no CSP on the page');
    const want = { 'app.js': 'text/javascript', 'app.css': 'text/css', 'uPlot.iife.min.js': 'text/javascript', 'uPlot.min.css': 'text/css', 'uPlot-LICENSE': 'text/plain' };
    for (const [f, ct] of Object.entries(want)) {
      const r = await fetch(`${base}/dashboard/assets/${f}`);
      assert(r.status === 200 && (r.headers.get('content-type') || '').startsWith(ct), `${f}: ${r.status} ${r.headers.get('content-type')}`);
    }
    for (const f of ['nope.js', '..%2F..%2FCargo.toml', 'index.html']) {
      const r = await fetch(`${base}/dashboard/assets/${f}`);
      const body = await r.json().catch(() => null);
      assert(r.status === 404 && body && body.error && body.error.code === 404, `${f}: ${r.status}`);
    }
  });

  await check('the page shows every provider, live figures, charts and the latest requests', async () => {
    context = await launch();
    const { page, problems } = await watchedPage(context, base);
    await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
    const ids = sent.map((s) => s.id).filter(Boolean);
    let seen;
    try {
      seen = await until('the dashboard to fill in', async () => {
        const d = await page.evaluate(readDashboard);
        const ok = d.live === 'live' && d.dashVisible
          && PROVIDERS.every((p) => d.perProvider[p] > 0)
          && Number((d.tiles['Requests · 30 min'] || '0').replace(/,/g, '')) > 0
          && d.drawn >= 3 && d.canvases >= MODELS.length * 3
          && ids.every((id) => d.requestIds.includes(id))
          && d.routes >= d.requestIds.length
          && d.keyLabels.includes('browser-test')
          && d.keyGuardrails.some((g) => g.includes('100000 tpm') && g.includes('expires 2099-01-01T00:00:00Z'));
        return { ...d, ok };
      }, 30000, 250);
      // point at the newest bucket of the first latency chart (its right edge), so the screenshot
      // shows a readout
      const over = await page.locator('.u-over').first().boundingBox();
      if (over) await page.mouse.move(over.x + over.width - 1, over.y + over.height / 2, { steps: 4 });
      log(`chart readout under the cursor: ${await page.evaluate(() => document.querySelector('.readout').textContent)}`);
    } finally {
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true }).catch((e) => log(`screenshot failed: ${e.message}`));
    }
    log(`page: providers ${JSON.stringify(seen.perProvider)}, ${seen.canvases} chart canvases, ${seen.requestIds.length} requests listed`);
    // one more refresh cycle must keep the page live and add no error
    const before = await page.evaluate(() => document.getElementById('live-text').textContent);
    await until('a live refresh', async () => (await page.evaluate(() => document.getElementById('live-text').textContent)) !== before, 10000, 200);
    assert(problems.length === 0, `problems on the page:\n  ${problems.join('\n  ')}`);
    await page.close();
  });

  await check('with [auth]: the data call answers 401, the page asks for a key and then shows the dashboard', async () => {
    const dir = path.join(work, 'auth');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'switchyard.toml'), [
      '[auth]', `master_key = "${MASTER}"`, '',
      '[[providers]]', 'name = "localonly"', 'base_url = "http://127.0.0.1:9/v1"', '',
      '[[models]]', 'id = "test/model"', 'name = "Test model"', 'context_length = 8192', '',
      '  [[models.endpoints]]', '  provider = "localonly"', '  upstream_model = "m"',
      '  prompt_price = 1.0', '  completion_price = 2.0', '',
    ].join('\n'));
    const authBase = await startGateway('gateway-auth', dir, ['--config', path.join(dir, 'switchyard.toml')]);
    const anon = await fetch(`${authBase}/api/v1/dashboard`);
    assert(anon.status === 401, `no key: ${anon.status}`);
    const wrong = await fetch(`${authBase}/api/v1/dashboard`, { headers: { authorization: 'Bearer wrong' } });
    assert(wrong.status === 401, `wrong key: ${wrong.status}`);
    const made = await fetch(`${authBase}/api/v1/keys`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify({ label: 'team-a', limit: 2 }) });
    assert(made.status === 201, `creating a key: ${made.status}`);
    const userKey = (await made.json()).key;
    // the data spans every key: another key is refused (SPEC §8), in the error shape
    const asUserRes = await fetch(`${authBase}/api/v1/dashboard`, { headers: { authorization: `Bearer ${userKey}` } });
    assert(asUserRes.status === 403, `a user key: ${asUserRes.status}`);
    const asUser = await asUserRes.json();
    assert(asUser.error && asUser.error.code === 403, 'a user key must not read the dashboard data');
    assert(!JSON.stringify(asUser).includes(userKey), 'the key secret is in the answer');

    const { page, problems } = await watchedPage(context, authBase);
    await page.goto(`${authBase}/`, { waitUntil: 'domcontentloaded' });
    await until('the key form', () => page.evaluate(() => !document.getElementById('auth').hidden), 10000);
    await page.fill('#auth-key', 'not-a-key');
    await page.click('#auth-form button');
    await until('the refusal', () => page.evaluate(() => !document.getElementById('auth-error').hidden), 10000);
    await page.fill('#auth-key', userKey);
    await page.click('#auth-form button');
    await until('the refusal of a user key', () => page.evaluate(() => /master key/.test(document.getElementById('auth-error').textContent)), 10000);
    await page.fill('#auth-key', MASTER);
    await page.click('#auth-form button');
    const d = await until('the dashboard behind the master key', async () => {
      const s = await page.evaluate(readDashboard);
      return { ...s, ok: s.dashVisible && !s.authVisible && s.live === 'live' && s.keyLabels.includes('team-a') && 'localonly' in s.perProvider };
    }, 15000);
    assert(d.models.includes('test/model'), 'the model is missing');
    const stored = await page.evaluate(() => localStorage.getItem('switchyard.dashboard.key'));
    assert(stored === MASTER, 'the key was not kept in localStorage');
    const expected401 = (p) => /status of 40[13]/.test(p); // the browser logs the refused data calls
    const rest = problems.filter((p) => !expected401(p));
    assert(rest.length === 0, `problems on the page:\n  ${rest.join('\n  ')}`);
    await page.close();
  });
}

let crashed = null;
try {
  await main();
} catch (err) {
  crashed = err;
  log(`FAIL setup: ${err && err.stack ? err.stack : err}`);
}
for (const c of cleanups.reverse()) await c().catch((e) => log(`cleanup: ${e.message}`));
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed + (crashed ? 1 : 0);
const shot = path.join(ARTIFACTS, 'dashboard.png');
if (fs.existsSync(shot)) log(`screenshot: ${shot}`);
process.stdout.write(`browser: ${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
