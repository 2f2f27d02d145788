// Browser tests of the dashboard: Debian's Chromium, headless, driven by Playwright
// (playwright-core, pinned in web/package-lock.json) against the real service with its chain
// loop on a real anvil. Run by the Rust end-to-end test tests/tests/api/dashboard.rs, which
// builds the world (contracts, a tokenized model, a funded client, one whole royalty cycle)
// and passes it in the environment:
//   IMO_URL, IMO_RPC_URL, IMO_CHAIN_ID, IMO_PUBLISHER_API_KEY, IMO_CLIENT_API_KEY,
//   IMO_HOLDER_PRIVATE_KEY, IMO_CLIENT_PRIVATE_KEY (anvil dev keys), IMO_MODEL (tokenized
//   model name), IMO_UPLOAD_MODEL, IMO_BAD_UPLOAD (files), IMO_WINDOW_SECS,
//   IMO_WITHDRAWAL_DELAY_SECS, IMO_SCREENSHOTS (folder), IMO_RESULT (JSON written at the end).
// Every view is screenshotted into IMO_SCREENSHOTS; a failing step adds failure-<step>.png.
// Exit status 0 only if every check passed.

import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';
import { createPublicClient, defineChain, getAddress, http, parseEther, toFunctionSelector } from 'viem';

import { TestWallet } from './test-wallet.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (this script is run by tests/tests/api/dashboard.rs)`);
  return v;
};
const URL_ = env('IMO_URL');
const RPC = env('IMO_RPC_URL');
const CHAIN_ID = Number(env('IMO_CHAIN_ID'));
const SHOTS = env('IMO_SCREENSHOTS');
const MODEL = env('IMO_MODEL');
const WINDOW = Number(env('IMO_WINDOW_SECS'));
const WITHDRAWAL_DELAY = Number(env('IMO_WITHDRAWAL_DELAY_SECS'));
const TIMEOUT = 60_000;
mkdirSync(SHOTS, { recursive: true });

const chain = defineChain({
  id: CHAIN_ID,
  name: 'anvil',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [RPC] } },
});
const pc = createPublicClient({ chain, transport: http(RPC) });
const results = { steps: [], screenshots: [] };
const t0 = Date.now();

async function api(path, { key, method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(URL_ + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json, text };
}

async function rpc(method, params = []) {
  const res = await fetch(RPC, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

async function gasCost(hash) {
  const r = await pc.getTransactionReceipt({ hash });
  assert.equal(r.status, 'success', `transaction ${hash} succeeded`);
  return { receipt: r, cost: r.gasUsed * r.effectiveGasPrice };
}

// ---- the browser ----
const profile = mkdtempSync(join(tmpdir(), 'imo-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.IMO_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: 1280, height: 900 },
  timezoneId: 'UTC',
  locale: 'en-US',
});
context.setDefaultTimeout(TIMEOUT);
const wallet = new TestWallet(RPC, CHAIN_ID);
await wallet.install(context);
const page = context.pages()[0] ?? (await context.newPage());

// Anything the page logs as an error, any uncaught exception, any CSP violation, and any
// failed request that is not an expected answer fails the run.
const problems = [];
const expected = [
  // a model without a token, an epoch still open, a receipt whose epoch is not closed yet
  { method: 'GET', path: /^\/v1\/models\/[^/]+\/token$/, status: 404 },
  { method: 'GET', path: /^\/v1\/models\/[^/]+\/revenue$/, status: 404 },
  { method: 'GET', path: /^\/v1\/epochs\/\d+$/, status: 404 },
  { method: 'GET', path: /^\/v1\/receipts\/[^/]+\/proof$/, status: 409 },
];
let allowNext = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  if (/Failed to load resource: the server responded with a status of/.test(m.text())) return; // judged by the response below
  problems.push(`console error: ${m.text()}`);
});
page.on('response', (res) => {
  if (res.status() < 400) return;
  const u = new URL(res.url());
  const method = res.request().method();
  const ok = [...expected, ...allowNext].some((e) => e.method === method && e.path.test(u.pathname) && e.status === res.status());
  if (!ok) problems.push(`unexpected ${res.status()} for ${method} ${u.pathname}${u.search}`);
});
let loads = 0;
page.on('load', () => {
  loads += 1;
});

function checkProblems(where) {
  if (problems.length) {
    const list = problems.splice(0);
    throw new Error(`${where}:\n  ${list.join('\n  ')}`);
  }
}

async function shot(name) {
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  results.screenshots.push(path);
  return path;
}

async function step(name, f) {
  const start = Date.now();
  process.stdout.write(`[dashboard] ${name} … `);
  try {
    await f();
    checkProblems(name);
    const ms = Date.now() - start;
    results.steps.push({ name, ms });
    console.log(`ok (${(ms / 1000).toFixed(1)} s)`);
  } catch (e) {
    console.log('FAILED');
    await page.screenshot({ path: join(SHOTS, `failure-${name.replace(/[^a-z0-9]+/gi, '-')}.png`), fullPage: true }).catch(() => {});
    throw e;
  }
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
async function accessible(view) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const r = await page.evaluate(async () => {
    const res = await window.axe.run(document, { resultTypes: ['violations'] });
    return res.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5),
    }));
  });
  const serious = r.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  results[`axe_${view}`] = r.map((v) => `${v.impact}: ${v.id}`);
  assert.deepEqual(serious, [], `axe-core finds serious or critical violations on the ${view} view`);
}

/** Pixels in the bar colour (#1d4ed8) inside a chart's plot area (not its legend): > 0 means
 * bars are drawn. */
async function barPixels(id) {
  return page.evaluate((id) => {
    const c = document.getElementById(id);
    if (!(c instanceof HTMLCanvasElement) || c.width === 0 || !c.dataset.plot) return -1;
    const scale = c.width / c.clientWidth;
    const [l, t, r, b] = c.dataset.plot.split(',').map((v) => Math.round(Number(v) * scale));
    if (r <= l || b <= t) return -1;
    const d = c.getContext('2d').getImageData(l, t, r - l, b - t).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4)
      if (Math.abs(d[i] - 29) < 8 && Math.abs(d[i + 1] - 78) < 8 && Math.abs(d[i + 2] - 216) < 8 && d[i + 3] > 200) n++;
    return n;
  }, id);
}

async function until(what, f, ms = TIMEOUT) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${ms / 1000} s waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

const weiOf = async (locator) => BigInt(await locator.getAttribute('data-wei'));
const contracts = (await api('/v1/contracts')).json;
const modelToken = (await api(`/v1/models/${MODEL}/token`)).json;
const token = getAddress(modelToken.token_address);

try {
  await step('overview shows the royalty cycle', async () => {
    await page.goto(`${URL_}/app/`);
    await page.evaluate(() => {
      window.__sameDocument = 'yes';
    });
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.getByRole('link', { name: MODEL, exact: true }).first().waitFor();
    const row = page.locator('table.epochs tbody tr[data-state="finalized"]').first();
    await row.waitFor();
    // The attest and finalize transactions shown are the operator's, mined, to the UsageOracle.
    for (const kind of ['attest', 'finalize']) {
      const hash = await row
        .locator('.tx[data-tx-state="final"]')
        .nth(kind === 'attest' ? 0 : 1)
        .getAttribute('data-tx-hash');
      const r = await pc.getTransactionReceipt({ hash });
      assert.equal(r.status, 'success');
      assert.equal(getAddress(r.to), getAddress(contracts.usage_oracle), `${kind} goes to the UsageOracle`);
      assert.equal(getAddress(r.from), getAddress(contracts.operator), `${kind} is sent by the operator`);
    }
    results.overview_epoch = Number(await row.getAttribute('data-epoch'));
    await shot('overview');
    await accessible('overview');
  });

  await step('keyboard navigation', async () => {
    await page.evaluate(() => document.activeElement?.blur());
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    const hash = await page.evaluate(() => location.hash);
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main', 'the skip link moves focus to the content');
    assert.equal(await page.evaluate(() => location.hash), hash, 'and keeps the view');
    await page.locator('.skip-link').focus();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Overview');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Publisher');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Publisher' }).waitFor();
    assert.equal(await page.evaluate(() => location.hash), '#/publisher');
    assert.equal(await page.locator('nav a[aria-current="page"]').textContent(), 'Publisher');
  });

  await step('publisher signs in with an API key', async () => {
    // A wrong key is refused with a message; nothing is stored.
    allowNext = [{ method: 'GET', path: /^\/v1\/whoami$/, status: 401 }];
    await page.getByLabel('API key', { exact: true }).fill('imo_not_a_key');
    await page.getByRole('button', { name: 'Sign in with the key' }).click();
    await page.getByText('The key was refused').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('imo.session')), null);
    allowNext = [];
    await page.getByLabel('API key', { exact: true }).fill(env('IMO_PUBLISHER_API_KEY'));
    await page.getByRole('button', { name: 'Sign in with the key' }).click();
    await page.getByRole('heading', { name: 'Your models' }).waitFor();
    const row = page.locator('table.models tbody tr', { has: page.getByRole('link', { name: MODEL, exact: true }) });
    await row.locator(`[data-token-state="tokenized"][data-token="${modelToken.token_address}"]`).waitFor();
    assert.match(await row.innerText(), new RegExp(modelToken.weights_root.replace(/^0x/, '').slice(0, 8)));
  });

  await step('publisher charts render data', async () => {
    const usage = (await api('/v1/usage', { key: env('IMO_PUBLISHER_API_KEY') })).json.usage;
    assert.ok(usage.length > 0, 'the publisher has usage');
    await until('the daily chart to draw its bars', async () => (await barPixels('chart-daily')) > 100);
    await until('the per-epoch chart to draw its bars', async () => (await barPixels('chart-epochs')) > 100);
    assert.equal(await page.locator('#chart-daily').getAttribute('data-points'), String(new Set(usage.map((u) => u.day)).size));
    const label = await page.locator('#chart-daily').getAttribute('aria-label');
    const calls = usage.reduce((a, u) => a + u.calls, 0);
    assert.ok(label.includes(`${calls} calls`), `the chart's text summary names ${calls} calls: ${label}`);
    // The epochs of the publisher's models: the cycle's epoch, finalized, with its calls.
    const row = page.locator(`table.epochs tbody tr[data-epoch="${results.overview_epoch}"]`);
    await row.locator('[data-state="finalized"]').first().waitFor();
    await shot('publisher');
    await accessible('publisher');
  });

  await step('publisher uploads a model with a progress bar', async () => {
    // A file that is not a model is refused with the service's message.
    allowNext = [{ method: 'POST', path: /^\/v1\/models$/, status: 422 }];
    await page.getByLabel('ONNX file').setInputFiles(env('IMO_BAD_UPLOAD'));
    await page.getByLabel('Name', { exact: true }).fill('not-a-model');
    await page.getByRole('button', { name: 'Upload and register' }).click();
    await page.getByText(/The upload was refused: .*\(invalid_model\)/).waitFor();
    assert.equal((await api('/v1/models/not-a-model')).status, 404, 'nothing was registered');
    allowNext = [];
    // The real upload, throttled so that the progress bar moves.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1_000_000 });
    await page.evaluate(() => {
      window.__progress = [];
      const p = document.querySelector('progress');
      new MutationObserver(() => window.__progress.push(Number(p.value))).observe(p, { attributes: true });
      p.addEventListener('change', () => {});
    });
    await page.getByLabel('ONNX file').setInputFiles(env('IMO_UPLOAD_MODEL'));
    await page.getByLabel('Name', { exact: true }).fill('silero-vad');
    await page.getByLabel('Price per call (ETH)').fill('0.000002');
    await page.getByLabel('Version').fill('6.2.3');
    await page.getByRole('button', { name: 'Upload and register' }).click();
    await until('the progress bar to move', async () => {
      const v = await page.evaluate(() => window.__progress);
      return v.some((x) => x > 0 && x < 100);
    });
    await shot('publisher-upload-progress');
    await page.getByText(/^Registered silero-vad \(mdl_/).waitFor({ timeout: 120_000 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await cdp.detach();
    const seen = await page.evaluate(() => window.__progress);
    assert.equal(await page.locator('progress').evaluate((p) => p.value), 100);
    assert.ok(seen.filter((x) => x > 0 && x < 100).length >= 2, `the bar moved in steps: ${seen}`);
    const m = (await api('/v1/models/silero-vad')).json;
    assert.equal(m.price_wei, parseEther('0.000002').toString());
    await page.locator('table.models tbody tr', { has: page.getByRole('link', { name: 'silero-vad', exact: true }) }).waitFor();
    results.uploaded = { id: m.id, weights_root: m.weights_root, progress: seen };
  });

  await step('publisher tokenizes the upload, live', async () => {
    const row = page.locator('table.models tbody tr', { has: page.getByRole('link', { name: 'silero-vad', exact: true }) });
    await row.getByText('Tokenize', { exact: true }).click();
    const form = page.getByRole('form', { name: 'Tokenize silero-vad' });
    // A bad symbol is refused in the page: nothing is sent.
    await form.getByLabel('Symbol').fill('bad sym');
    await form.getByRole('button', { name: 'Tokenize silero-vad' }).click();
    await form.getByText('The symbol may only hold').waitFor();
    assert.equal((await api('/v1/models/silero-vad/token')).status, 404, 'no tokenization was requested');
    await form.getByLabel('Symbol').fill('SVAD');
    await form.getByLabel('Supply (whole tokens)').fill('5000');
    await form.getByLabel("Holders' share of revenue (%)").fill('75');
    await form.getByRole('button', { name: 'Tokenize silero-vad' }).click();
    // The chain loop registers it; the page shows it without a reload.
    const t = await until('the token to be registered', async () => {
      const r = await api('/v1/models/silero-vad/token');
      return r.status === 200 && r.json.state === 'tokenized' ? r.json : null;
    });
    assert.equal(t.supply, (5000n * 10n ** 18n).toString());
    assert.equal(t.holders_bps, 7500);
    await row.locator(`[data-token-state="tokenized"][data-token="${t.token_address}"]`).waitFor();
    results.tokenized = t.token_address;
  });

  await step('model page shows the signature and verifies the weights commitment', async () => {
    await page.getByRole('link', { name: 'silero-vad', exact: true }).first().click();
    await page.getByRole('heading', { level: 1, name: 'Model silero-vad' }).waitFor();
    const m = (await api('/v1/models/silero-vad')).json;
    for (const t of [...m.inputs, ...m.outputs]) {
      await page.locator('table.inputs, table.outputs').getByText(t.name, { exact: true }).first().waitFor();
    }
    assert.equal(await page.locator('code.root').getAttribute('data-root'), m.weights_root);
    const n = m.tensor_count;
    results.model_tensors = n;
    await page.getByRole('button', { name: `Verify all ${n} tensors in the browser` }).click();
    await page.getByText(`All ${n} tensors are included under the weights root`).waitFor({ timeout: 120_000 });
    assert.equal(await page.locator('[data-verified="true"]').count(), n);
    await page.locator('[data-token-state="tokenized"]').first().waitFor();
    await shot('model');
    await accessible('model');
  });

  let holderAddress;
  await step('holder claims with one claimBatch, exact to the wei', async () => {
    holderAddress = await wallet.use(env('IMO_HOLDER_PRIVATE_KEY'));
    await page.getByRole('link', { name: 'Holder', exact: true }).click();
    await page.getByRole('button', { name: 'Connect wallet' }).first().click();
    await page.getByRole('heading', { name: 'Tokens held' }).waitFor();
    const c = (await api(`/v1/holders/${holderAddress}/claimable`)).json;
    const t = c.tokens.find((x) => getAddress(x.token_address) === token);
    const claimable = BigInt(t.claimable_wei);
    assert.ok(claimable > 0n, 'the holder has revenue to claim');
    await page.locator(`[data-total-claimable="${c.total_claimable_wei}"]`).waitFor();
    const balance = await pc.readContract({
      address: token,
      abi: [
        { type: 'function', name: 'balanceOf', stateMutability: 'view', inputs: [{ type: 'address' }], outputs: [{ type: 'uint256' }] },
      ],
      functionName: 'balanceOf',
      args: [holderAddress],
    });
    await page.locator(`table.held [data-balance="${balance}"]`).waitFor();
    for (const s of t.snapshots) await page.locator(`table.claimable [data-snapshot="${s.snapshot_id}"]`).waitFor();
    await shot('holder-before-claim');
    const before = await pc.getBalance({ address: holderAddress });
    const nonceBefore = await pc.getTransactionCount({ address: holderAddress });
    const sentBefore = wallet.sent.length;
    await page.locator(`button[data-token="${t.token_address}"]`).click();
    await page.getByText(/^Claimed .* from /).waitFor();
    const hash = await page.locator('[data-last-claim-tx]').getAttribute('data-last-claim-tx');
    assert.equal(wallet.sent.length, sentBefore + 1, 'one transaction');
    const sent = wallet.sent.at(-1);
    assert.equal(sent.hash, hash);
    assert.equal(getAddress(sent.to), token);
    assert.equal(sent.data.slice(0, 10), toFunctionSelector('claimBatch(uint256[])'), 'the one call is claimBatch');
    const { cost, receipt } = await gasCost(hash);
    const after = await pc.getBalance({ address: holderAddress, blockNumber: receipt.blockNumber });
    assert.equal(await pc.getTransactionCount({ address: holderAddress }), nonceBefore + 1);
    assert.equal(after, before - cost + claimable, "the holder's ETH rises by exactly its claimable amount minus gas");
    results.claim = {
      tx: hash,
      holder: holderAddress,
      token,
      claimable: claimable.toString(),
      gas_cost: cost.toString(),
      before: before.toString(),
      after: after.toString(),
      block: receipt.blockNumber.toString(),
    };
    // Live: nothing left to claim, and the claim is in the history.
    await page.locator('[data-total-claimable="0"]').waitFor();
    await page.locator('table.history tbody tr', { hasText: 'claim, snapshot' }).first().waitFor();
    await shot('holder');
    await accessible('holder');
  });

  await step('holder burns tokens for the redeem pool', async () => {
    await page.getByText('Burn TMLP', { exact: true }).first().click();
    const form = page.getByRole('form', { name: 'Burn TMLP' });
    // More than the holder has, or not a number: refused in the page, nothing is sent.
    const sentBefore = wallet.sent.length;
    await form.getByLabel('Tokens to burn (TMLP)').fill('999999999');
    await form.getByRole('button', { name: 'Burn TMLP' }).click();
    await form.getByText(/^You hold only 300,000 TMLP/).waitFor();
    await form.getByLabel('Tokens to burn (TMLP)').fill('lots');
    await form.getByRole('button', { name: 'Burn TMLP' }).click();
    await form.getByText('Enter an amount of tokens above 0.').first().waitFor();
    assert.equal(wallet.sent.length, sentBefore, 'no transaction for bad input');
    await form.getByLabel('Tokens to burn (TMLP)').fill('1000');
    const amount = 1000n * 10n ** 18n;
    const redeem = await pc.readContract({
      address: token,
      abi: [
        {
          type: 'function',
          name: 'redeemableOnBurn',
          stateMutability: 'view',
          inputs: [{ type: 'uint256' }],
          outputs: [{ type: 'uint256' }],
        },
      ],
      functionName: 'redeemableOnBurn',
      args: [amount],
    });
    await form.locator(`output[data-wei="${redeem}"]`).waitFor();
    const before = await pc.getBalance({ address: holderAddress });
    await form.getByRole('button', { name: 'Burn TMLP' }).click();
    await form.getByText(/^Burned; redeemed/).waitFor();
    const hash = await form.getAttribute('data-last-burn-tx');
    const { cost, receipt } = await gasCost(hash);
    const after = await pc.getBalance({ address: holderAddress, blockNumber: receipt.blockNumber });
    assert.equal(after, before - cost + redeem, 'the burn pays exactly redeemableOnBurn');
    await page.locator('table.history tbody tr', { hasText: 'burn of 1,000 TMLP' }).first().waitFor();
    results.burn = { tx: hash, redeemed: redeem.toString() };
  });

  let clientAddress;
  await step('client signs in with Ethereum and sees its balance', async () => {
    clientAddress = await wallet.use(env('IMO_CLIENT_PRIVATE_KEY'));
    await page.getByRole('link', { name: 'Client', exact: true }).click();
    await page.getByRole('button', { name: 'Sign in with Ethereum as client' }).click();
    await page.locator('[data-session="client"]').waitFor();
    const b = (await api('/v1/balance', { key: env('IMO_CLIENT_API_KEY') })).json;
    assert.equal(getAddress(b.address), clientAddress);
    assert.equal(await weiOf(page.locator('[data-field="balance"] .amount')), BigInt(b.balance_wei));
    assert.equal(await weiOf(page.locator('[data-field="cap"] .amount')), BigInt(b.cap_wei));
    const count = (await api('/v1/receipts?limit=1000', { key: env('IMO_CLIENT_API_KEY') })).json.receipts.length;
    await page.locator(`[data-receipt-count="${count}"]`).waitFor();
  });

  await step('client deposits from the wallet; the balance updates live', async () => {
    const b0 = BigInt((await api('/v1/balance', { key: env('IMO_CLIENT_API_KEY') })).json.balance_wei);
    // Not an amount: refused in the page, nothing is sent.
    const sentBefore = wallet.sent.length;
    for (const bad of ['abc', '0', '-1']) {
      await page.getByLabel('Deposit (ETH)', { exact: true }).fill(bad);
      await page.getByRole('button', { name: 'Deposit', exact: true }).click();
      await page.getByText('Deposit (ETH): enter an amount of ETH above 0.').waitFor();
    }
    assert.equal(wallet.sent.length, sentBefore, 'no transaction for bad input');
    const before = await pc.getBalance({ address: clientAddress });
    await page.getByLabel('Deposit (ETH)', { exact: true }).fill('0.5');
    await page.getByRole('button', { name: 'Deposit', exact: true }).click();
    await page.getByText(/^Deposited 0\.5 ETH in transaction/).waitFor();
    const hash = await page.locator('[data-last-deposit-tx]').getAttribute('data-last-deposit-tx');
    const { cost, receipt } = await gasCost(hash);
    const after = await pc.getBalance({ address: clientAddress, blockNumber: receipt.blockNumber });
    assert.equal(after, before - cost - parseEther('0.5'), 'the wallet paid exactly 0.5 ETH plus gas');
    // The service indexes the deposit; the page shows it without a reload.
    await page.locator(`[data-field="balance"] [data-wei="${b0 + parseEther('0.5')}"]`).waitFor();
    await page.locator('table.vault-history tbody tr', { hasText: 'Deposited' }).first().waitFor();
    results.deposit = { tx: hash, gas_cost: cost.toString() };
  });

  await step('client raises its spending cap with a signature', async () => {
    const cap = BigInt((await api('/v1/balance', { key: env('IMO_CLIENT_API_KEY') })).json.cap_wei) + parseEther('1');
    await page.getByLabel('New spending cap (ETH, lifetime total)', { exact: true }).fill((Number(cap / 10n ** 15n) / 1000).toString());
    await page.getByRole('button', { name: 'Sign and submit the cap' }).click();
    await page.getByText(/signed and submitted/).waitFor();
    await page.locator(`[data-field="cap"] [data-wei="${cap}"]`).waitFor();
    await page.locator(`[data-field="vault-cap"] [data-wei="${cap}"]`).waitFor();
  });

  await step('client requests a withdrawal and withdraws after the delay', async () => {
    await page.getByLabel('Withdrawal (ETH)', { exact: true }).fill('0.1');
    await page.getByRole('button', { name: 'Request withdrawal' }).click();
    await page.getByText(/^Withdrawal of 0\.1 ETH requested/).waitFor();
    await page.locator(`[data-field="held"] [data-wei="${parseEther('0.1')}"]`).waitFor();
    await page.locator(`[data-field="vault-withdrawal"][data-wei="${parseEther('0.1')}"]`).waitFor();
    await rpc('evm_increaseTime', [WITHDRAWAL_DELAY + 1]);
    await rpc('evm_mine', []);
    const before = await pc.getBalance({ address: clientAddress });
    await page.getByRole('button', { name: 'Withdraw what is ready' }).click();
    await page.getByText(/^Withdrawn in transaction/).waitFor();
    const hash = await page.locator('[data-last-withdraw-tx]').getAttribute('data-last-withdraw-tx');
    const { cost, receipt } = await gasCost(hash);
    const after = await pc.getBalance({ address: clientAddress, blockNumber: receipt.blockNumber });
    assert.equal(after, before - cost + parseEther('0.1'), 'the withdrawal pays exactly 0.1 ETH');
    await page.locator('[data-field="held"] [data-wei="0"]').waitFor();
    for (const e of ['Deposited', 'SpendingCapSet', 'withdrawal requested', 'Withdrawn']) {
      await page.locator('table.vault-history tbody tr', { hasText: e }).first().waitFor();
    }
    results.withdraw = { tx: hash };
  });

  await step('client verifies a finalized receipt in the browser against the chain', async () => {
    const row = page.locator('table.receipts tbody tr', { has: page.locator('[data-proof-status="finalized"]') }).first();
    await row.waitFor();
    const id = await row.locator('[data-receipt-id]').getAttribute('data-receipt-id');
    await row.getByRole('button', { name: `Verify receipt ${id}` }).click();
    const box = page.locator(`.verify[data-receipt="${id}"][data-verdict="verified"]`);
    await box.waitFor();
    assert.equal(await box.locator('li[data-ok="true"]').count(), 7, 'seven checks passed');
    assert.equal(await box.locator('li:not([data-ok="true"])').count(), 0);
    await shot('client');
    await shot('client-verify');
    await accessible('client');
  });

  await step('live: new calls move through pending, attested and finalized without a reload', async () => {
    const calls = [];
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${URL_}/v2/models/${MODEL}/infer`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env('IMO_CLIENT_API_KEY')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }),
      });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      calls.push(JSON.parse(text).parameters.imo_receipt_id);
    }
    const id = calls.at(-1);
    const status = page.locator(`table.receipts tbody tr:has([data-receipt-id="${id}"]) [data-proof-status]`);
    await status.waitFor();
    const first = await status.getAttribute('data-proof-status');
    if (first === 'pending') {
      // Checked before its epoch is attested: the signature verifies, the proof is not there yet.
      await page.getByRole('button', { name: `Verify receipt ${id}` }).click();
      await page.locator(`.verify[data-receipt="${id}"]:is([data-verdict="partial"], [data-verdict="verified"])`).waitFor();
      await shot('client-pending');
    }
    await page.locator(`table.receipts tbody tr:has([data-receipt-id="${id}"]) [data-proof-status="attested"]`).waitFor();
    await rpc('evm_increaseTime', [WINDOW + 1]);
    await rpc('evm_mine', []);
    await page.locator(`table.receipts tbody tr:has([data-receipt-id="${id}"]) [data-proof-status="finalized"]`).waitFor();
    // The overview's timeline shows the new epoch finalized (hash navigation, same document).
    await page.getByRole('link', { name: 'Overview', exact: true }).click();
    const epoch = (await api(`/v1/receipts/${id}`, { key: env('IMO_CLIENT_API_KEY') })).json.epoch;
    await page.locator(`table.epochs tbody tr[data-epoch="${epoch}"][data-state="finalized"]`).waitFor();
    assert.equal(await page.evaluate(() => window.__sameDocument), 'yes', 'no reload happened');
    assert.equal(loads, 1, 'the page loaded once');
    results.live_epoch = epoch;
    await shot('overview-live');
  });
  results.ok = true;
} finally {
  results.seconds = (Date.now() - t0) / 1000;
  if (process.env.IMO_RESULT) writeFileSync(process.env.IMO_RESULT, JSON.stringify(results, null, 2));
  await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
console.log(`[dashboard] all checks passed in ${results.seconds.toFixed(1)} s; screenshots in ${SHOTS}`);
