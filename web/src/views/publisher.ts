// Publisher: your models (weights root, token, price, state), upload with a progress bar,
// tokenize, calls and revenue per day and per epoch, and the epochs of your models with their
// attest and finalize transactions.

import { parseEther } from 'viem';

import { get, getOrNull, post, session, upload } from '../api';
import { BarLineChart } from '../charts';
import { card, field, h, statusLine, table } from '../dom';
import { bytes, eth } from '../format';
import { TimelineTable, rootKey, share } from '../timeline';
import type { Contracts, DailyUsage, Model, ModelList, Timeline, Token } from '../types';
import { errorText, hex, signInPanel, signedIn, tx } from '../ui';
import type { View } from './view';

const NAME = /^[A-Za-z0-9._\-]{1,64}$/;
const SYMBOL = /^[A-Z0-9\-]{1,11}$/;

export function publisher(contracts: Contracts | null): View {
  if (!signedIn(['publisher'])) {
    const el = h(
      'div',
      { class: 'view' },
      h('h1', {}, 'Publisher'),
      signInPanel(
        'publisher',
        'Sign in with your publisher API key, or with your wallet, to see your models, their usage and revenue, and to upload and tokenize models.',
      ),
    );
    return { el, refresh: async () => {}, pollMs: 0, dispose() {} };
  }
  const me = session()!;
  let models: Model[] = [];
  let ownRoots = new Set<string>();
  const modelsSlot = h('div');
  const daily = new BarLineChart('Calls and revenue per day', 'Day (UTC)', 'chart-daily');
  const perEpoch = new BarLineChart('Calls and revenue per epoch', 'Epoch', 'chart-epochs');
  const timeline = new TimelineTable('Epochs with calls to your models, newest first', () => ownRoots);

  // Upload.
  const file = h('input', { type: 'file', name: 'model-file', accept: '.onnx,application/octet-stream', required: true });
  const name = h('input', { type: 'text', name: 'model-name', required: true, pattern: NAME.source, maxlength: 64, autocomplete: 'off' });
  const price = h('input', { type: 'text', name: 'price', required: true, inputmode: 'decimal', value: '0.001', autocomplete: 'off' });
  const version = h('input', { type: 'text', name: 'version', value: '1', maxlength: 64, autocomplete: 'off' });
  const description = h('textarea', { name: 'description', rows: 2, maxlength: 2000 });
  const progress = h('progress', { max: 100, value: 0, 'aria-label': 'Upload progress' });
  const progressText = h('span', { class: 'progress-text', 'aria-hidden': 'true' }, '0 %');
  const uploadStatus = statusLine();
  const uploadButton = h('button', { type: 'submit' }, 'Upload and register');
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    if (f && !name.value)
      name.value = f.name
        .replace(/\.onnx$/i, '')
        .replace(/[^A-Za-z0-9._-]/g, '-')
        .slice(0, 64);
  });
  const uploadForm = h(
    'form',
    { class: 'stack', 'aria-labelledby': 'upload-title', novalidate: true },
    field('ONNX file', file, 'Self-contained .onnx (no external data). It is validated by ONNX Runtime and its weights are committed.'),
    field('Name', name, 'Unique; letters, digits, . _ - (the name on the inference API).'),
    field('Price per call (ETH)', price),
    field('Version', version),
    field('Description', description),
    h('div', { class: 'progress-row' }, progress, progressText),
    uploadButton,
    uploadStatus.el,
  );
  uploadForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = file.files?.[0];
    if (!f) return uploadStatus.error('Choose an ONNX file.');
    if (!NAME.test(name.value)) return uploadStatus.error('The name may only hold letters, digits, ".", "_" and "-" (1 to 64).');
    let priceWei: bigint;
    try {
      priceWei = parseEther(price.value.trim());
      if (priceWei < 0n) throw new Error('negative');
    } catch {
      return uploadStatus.error(`The price "${price.value}" is not an amount of ETH.`);
    }
    uploadButton.disabled = true;
    progress.value = 0;
    progressText.textContent = '0 %';
    uploadStatus.busy(`Uploading ${f.name} (${bytes(f.size)})…`);
    try {
      const res = await upload<Model>(
        '/v1/models',
        {
          name: name.value,
          price_wei: priceWei.toString(),
          version: version.value || undefined,
          description: description.value || undefined,
        },
        f,
        (sent, total) => {
          const pct = total > 0 ? Math.floor((sent / total) * 100) : 100;
          progress.value = pct;
          progressText.textContent = `${pct} %`;
          if (pct === 100) uploadStatus.busy('Uploaded; ONNX Runtime is validating the model…');
        },
      );
      const m = res.body;
      uploadStatus.ok(
        res.status === 201
          ? `Registered ${m.name} (${m.id}); weights root ${m.weights_root}.`
          : `These weights were already registered by you as ${m.name} (${m.id}); nothing changed.`,
      );
      uploadForm.reset();
      progress.value = 100;
      progressText.textContent = '100 %';
      await refresh();
    } catch (e) {
      uploadStatus.error(`The upload was refused: ${errorText(e)}`);
    } finally {
      uploadButton.disabled = false;
    }
  });

  const el = h(
    'div',
    { class: 'view' },
    h('h1', {}, 'Publisher'),
    h('p', { class: 'lede' }, 'Signed in as ', hex(me.address, 8), ` (${me.role}).`),
    card('mymodels', 'Your models', modelsSlot),
    card('usage', 'Usage and revenue', h('div', { class: 'charts' }, daily.el, perEpoch.el)),
    contracts ? card('pepochs', 'Epochs', timeline.el) : null,
    card('upload', 'Upload a model', uploadForm),
  );

  // Tokenize forms (in their <details>) are kept across polls, so that re-rendering the table
  // never closes one or loses what was typed.
  const tokenizeForms = new Map<string, HTMLElement>();
  function tokenizeForm(m: Model): HTMLElement {
    const existing = tokenizeForms.get(m.id);
    if (existing) return existing;
    const tname = h('input', { type: 'text', name: 'token-name', required: true, maxlength: 64, value: m.name, autocomplete: 'off' });
    const symbol = h('input', {
      type: 'text',
      name: 'symbol',
      required: true,
      maxlength: 11,
      pattern: SYMBOL.source,
      value:
        m.name
          .toUpperCase()
          .replace(/[^A-Z0-9-]/g, '')
          .slice(0, 11) || 'TOKEN',
      autocomplete: 'off',
    });
    const supply = h('input', {
      type: 'text',
      name: 'supply',
      required: true,
      inputmode: 'numeric',
      pattern: '[0-9]{1,30}',
      value: '1000000',
      autocomplete: 'off',
    });
    const share = h('input', { type: 'number', name: 'holders-percent', required: true, min: 0, max: 100, step: '0.01', value: '80' });
    const status = statusLine();
    const button = h('button', { type: 'submit' }, `Tokenize ${m.name}`);
    const form = h(
      'form',
      { class: 'stack tokenize', 'aria-label': `Tokenize ${m.name}`, novalidate: true },
      field('Token name', tname),
      field('Symbol', symbol, 'A-Z, 0-9 and -, up to 11.'),
      field('Supply (whole tokens)', supply, 'All minted to you; 18 decimals.'),
      field("Holders' share of revenue (%)", share, 'The rest is redeemable by burning tokens.'),
      button,
      status.el,
    );
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!tname.value.trim() || tname.value.trim() !== tname.value)
        return status.error('Give the token a name, without spaces at either end.');
      if (!SYMBOL.test(symbol.value)) return status.error('The symbol may only hold A-Z, 0-9 and - (1 to 11).');
      if (!/^[1-9][0-9]{0,29}$/.test(supply.value)) return status.error('The supply is a whole number of tokens above 0.');
      const pct = Number(share.value);
      if (!Number.isFinite(pct) || pct < 0 || pct > 100) return status.error("The holders' share is a percentage from 0 to 100.");
      button.disabled = true;
      status.busy('Registering the token on-chain…');
      try {
        const t = await post<Token>(
          `/v1/models/${encodeURIComponent(m.id)}/tokenize`,
          {
            name: tname.value,
            symbol: symbol.value,
            supply_tokens: supply.value,
            holders_bps: Math.round(pct * 100),
          },
          { auth: true },
        );
        status.ok(`Tokenization ${t.state}: the token appears here once its registration is final.`);
        tokenizeForms.delete(m.id);
        await refresh();
      } catch (e) {
        status.error(`Tokenization was refused: ${errorText(e)}`);
      } finally {
        button.disabled = false;
      }
    });
    const details = h('details', {}, h('summary', {}, 'Tokenize'), form);
    tokenizeForms.set(m.id, details);
    return details;
  }

  let lastModels = '';
  async function refresh(): Promise<void> {
    const list = await get<ModelList>('/v1/models', { query: { publisher: me.address, include_inactive: true, limit: 500 } });
    models = list.models;
    ownRoots = new Set(models.map((m) => rootKey(m.weights_root)));
    const tokens = contracts
      ? await Promise.all(models.map((m) => getOrNull<Token>(`/v1/models/${encodeURIComponent(m.id)}/token`)))
      : models.map(() => null);
    const sig = JSON.stringify([models, tokens]);
    if (sig !== lastModels) {
      lastModels = sig;
      modelsSlot.replaceChildren(
        table(
          'Your models and their tokens',
          ['Name', 'Weights root', 'Price per call', 'Serving', 'Token', 'Actions'],
          models.map((m, i) => {
            const t = tokens[i] ?? null;
            const canTokenize = contracts && m.active && (!t || t.state === 'failed');
            return [
              h('a', { href: `#/models/${encodeURIComponent(m.id)}` }, m.name),
              hex(m.weights_root),
              h('span', { 'data-wei': m.price_wei, title: `${m.price_wei} wei` }, eth(m.price_wei)),
              m.active ? 'active' : 'deactivated',
              t
                ? h(
                    'span',
                    { class: 'token', 'data-token-state': t.state, 'data-token': t.token_address ?? '' },
                    h('span', { class: `badge badge-${t.state}` }, t.state),
                    ` ${t.symbol}`,
                    t.token_address ? [' ', hex(t.token_address)] : null,
                    t.state !== 'tokenized' ? [' ', tx(t.transaction)] : null,
                    t.error ? h('span', { class: 'error-text' }, ` ${t.error}`) : null,
                  )
                : h('span', { 'data-token-state': 'none' }, contracts ? 'not tokenized' : '—'),
              canTokenize ? tokenizeForm(m) : '—',
            ];
          }),
          { class: 'models' },
        ),
      );
    }
    const [usage, t] = await Promise.all([
      get<{ usage: DailyUsage[] }>('/v1/usage', { auth: true }),
      contracts ? get<Timeline>('/v1/epochs', { query: { limit: 50 } }) : Promise.resolve(null),
    ]);
    const days = [...new Set(usage.usage.map((u) => u.day))].sort();
    daily.update(
      days,
      { label: 'Calls', data: days.map((d) => usage.usage.filter((u) => u.day === d).reduce((a, u) => a + u.calls, 0)) },
      {
        label: 'Revenue (ETH)',
        data: days.map((d) => weiToEth(usage.usage.filter((u) => u.day === d).reduce((a, u) => a + BigInt(u.revenue_wei), 0n))),
      },
      (v, which) => (which === 'bars' ? `${v} calls` : `${v} ETH`),
    );
    if (t) {
      const mine = t.epochs.filter((e) => share(e, ownRoots).calls > 0).reverse();
      perEpoch.update(
        mine.map((e) => String(e.epoch)),
        { label: 'Calls', data: mine.map((e) => share(e, ownRoots).calls) },
        { label: 'Revenue (ETH)', data: mine.map((e) => weiToEth(share(e, ownRoots).total)) },
        (v, which) => (which === 'bars' ? `${v} calls` : `${v} ETH`),
      );
      timeline.update({ ...t, epochs: t.epochs.filter((e) => share(e, ownRoots).calls > 0) });
    }
  }

  return {
    el,
    refresh,
    pollMs: 3000,
    dispose() {
      daily.destroy();
      perEpoch.destroy();
    },
  };
}

function weiToEth(wei: bigint): number {
  return Number(wei) / 1e18;
}
