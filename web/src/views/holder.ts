// Token holder: the tokens you hold, what you can claim per model and snapshot, claim (one
// `claimBatch` per token) and burn from your wallet, and your history of claims and burns
// (the tokens' RevenueClaimed and Redeemed events).

import { type Address, type Log, getAddress, parseEventLogs, parseUnits } from 'viem';

import { get } from '../api';
import { card, field, h, statusLine, table } from '../dom';
import { modelTokenAbi } from '../generated/abis';
import type { Claimable, Contracts, Model, TokenClaim } from '../types';
import { amount, connectPanel, errorText, hex, tokenAmount } from '../ui';
import { message, publicClient, send, wallet } from '../wallet';
import type { View } from './view';

interface HistoryRow {
  block: bigint;
  logIndex: number;
  tx: string;
  symbol: string;
  what: string;
  wei: bigint;
}

export function holder(contracts: Contracts | null): View {
  if (!contracts) {
    const el = h(
      'div',
      { class: 'view' },
      h('h1', {}, 'Holder'),
      h('p', {}, 'The chain loop of this service is off: there are no tokens.'),
    );
    return { el, refresh: async () => {}, pollMs: 0, dispose() {} };
  }
  const w = wallet();
  if (!w) {
    const el = h(
      'div',
      { class: 'view' },
      h('h1', {}, 'Holder'),
      connectPanel('Connect the wallet that holds model tokens to see and claim its revenue, burn tokens, and see its history.'),
    );
    return { el, refresh: async () => {}, pollMs: 0, dispose() {} };
  }
  const me: Address = w.address;
  const summary = h('p', { class: 'lede', 'aria-live': 'polite' });
  const heldSlot = h('div');
  const claimSlot = h('div');
  const historySlot = h('div');
  const actionStatus = statusLine();
  const el = h(
    'div',
    { class: 'view' },
    h('h1', {}, 'Holder'),
    h('p', {}, 'Wallet ', hex(me, 8), '.'),
    summary,
    actionStatus.el,
    card('held', 'Tokens held', heldSlot),
    card('claim', 'Claimable revenue', claimSlot),
    card('history', 'History of claims and burns', historySlot),
  );
  let busy = false;
  const names = new Map<string, string>();
  // The latest read of each token (forms created earlier check amounts against it).
  const latest = new Map<string, TokenClaim>();
  const burnForms = new Map<string, HTMLElement>();

  async function claim(t: TokenClaim): Promise<void> {
    if (busy) return;
    busy = true;
    const ids = t.snapshots.filter((s) => BigInt(s.claimable_wei) > 0n).map((s) => BigInt(s.snapshot_id));
    actionStatus.busy(`Claiming ${t.symbol} revenue of snapshot${ids.length === 1 ? '' : 's'} ${ids.join(', ')}: confirm in your wallet…`);
    try {
      const r = await send({ address: getAddress(t.token_address), abi: modelTokenAbi, functionName: 'claimBatch', args: [ids] });
      const logs = parseEventLogs({ abi: modelTokenAbi, eventName: 'RevenueClaimed', logs: r.logs });
      const got = logs.reduce((a, l) => a + l.args.amount, 0n);
      actionStatus.ok(`Claimed ${amount(got).textContent} from ${t.symbol} in transaction ${r.transactionHash} (gas ${r.gasUsed}).`);
      claimSlot.setAttribute('data-last-claim-tx', r.transactionHash);
    } catch (e) {
      actionStatus.error(`The claim failed: ${message(e)}`);
    } finally {
      busy = false;
      await refresh();
    }
  }

  function burnForm(t: TokenClaim): HTMLElement {
    const existing = burnForms.get(t.token_address);
    if (existing) return existing;
    const input = h('input', { type: 'text', name: 'burn-amount', inputmode: 'decimal', required: true, autocomplete: 'off' });
    const preview = h('output', { 'aria-live': 'polite' }, 'Enter an amount to see what it redeems.');
    const status = statusLine();
    const button = h('button', { type: 'submit' }, `Burn ${t.symbol}`);
    const parse = (): bigint | null => {
      try {
        const v = parseUnits(input.value.trim(), 18);
        return v > 0n ? v : null;
      } catch {
        return null;
      }
    };
    let seq = 0;
    input.addEventListener('input', async () => {
      const v = parse();
      const mine = ++seq;
      if (v === null) {
        preview.textContent = 'Enter an amount of tokens above 0.';
        return;
      }
      try {
        const redeem = await publicClient().readContract({
          address: getAddress(t.token_address),
          abi: modelTokenAbi,
          functionName: 'redeemableOnBurn',
          args: [v],
        });
        if (mine === seq) {
          preview.replaceChildren('Burning it redeems ', amount(redeem), ' from the redeem pool.');
          preview.setAttribute('data-wei', redeem.toString());
        }
      } catch (e) {
        if (mine === seq) preview.textContent = `Cannot preview: ${message(e)}`;
      }
    });
    const form = h(
      'form',
      { class: 'stack', 'aria-label': `Burn ${t.symbol}`, novalidate: true },
      field(`Tokens to burn (${t.symbol})`, input, 'Burning pays your share of the redeem pool and destroys the tokens.'),
      preview,
      button,
      status.el,
    );
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const v = parse();
      if (v === null) return status.error('Enter an amount of tokens above 0.');
      const now = latest.get(t.token_address) ?? t;
      if (v > BigInt(now.balance)) return status.error(`You hold only ${tokenAmount(now.balance, now.symbol).textContent}.`);
      button.disabled = true;
      status.busy('Burning: confirm in your wallet…');
      try {
        const r = await send({ address: getAddress(t.token_address), abi: modelTokenAbi, functionName: 'burn', args: [v] });
        const logs = parseEventLogs({ abi: modelTokenAbi, eventName: 'Redeemed', logs: r.logs });
        const got = logs.reduce((a, l) => a + l.args.redeemed, 0n);
        status.ok(`Burned; redeemed ${amount(got).textContent} in transaction ${r.transactionHash}.`);
        form.setAttribute('data-last-burn-tx', r.transactionHash);
        input.value = '';
      } catch (e) {
        status.error(`The burn failed: ${message(e)}`);
      } finally {
        button.disabled = false;
        await refresh();
      }
    });
    const details = h('details', {}, h('summary', {}, `Burn ${t.symbol}`), form);
    burnForms.set(t.token_address, details);
    return details;
  }

  async function history(tokens: TokenClaim[]): Promise<HistoryRow[]> {
    const pc = publicClient();
    const rows: HistoryRow[] = [];
    for (const t of tokens) {
      const address = getAddress(t.token_address);
      const fromBlock = BigInt(contracts!.deployed_at_block);
      const [claims, burns] = await Promise.all([
        pc.getContractEvents({ address, abi: modelTokenAbi, eventName: 'RevenueClaimed', args: { account: me }, fromBlock }),
        pc.getContractEvents({ address, abi: modelTokenAbi, eventName: 'Redeemed', args: { account: me }, fromBlock }),
      ]);
      for (const l of claims) {
        rows.push({ ...at(l), symbol: t.symbol, what: `claim, snapshot ${l.args.snapshotId}`, wei: l.args.amount ?? 0n });
      }
      for (const l of burns) {
        rows.push({
          ...at(l),
          symbol: t.symbol,
          what: `burn of ${tokenAmount(l.args.amount ?? 0n, t.symbol).textContent}`,
          wei: l.args.redeemed ?? 0n,
        });
      }
    }
    return rows.sort((a, b) => (a.block === b.block ? b.logIndex - a.logIndex : a.block < b.block ? 1 : -1));
  }

  let last = '';
  async function refresh(): Promise<void> {
    if (busy) return;
    const c = await get<Claimable>(`/v1/holders/${me}/claimable`);
    for (const t of c.tokens) latest.set(t.token_address, t);
    const held = c.tokens.filter((t) => BigInt(t.balance) > 0n || BigInt(t.claimable_wei) > 0n);
    await Promise.all(
      c.tokens
        .filter((t) => !names.has(t.model_id))
        .map(async (t) => names.set(t.model_id, (await get<Model>(`/v1/models/${encodeURIComponent(t.model_id)}`)).name)),
    );
    const name = (t: TokenClaim) => names.get(t.model_id) ?? t.model_id;
    const rows = await history(c.tokens);
    const sig = JSON.stringify([c, rows.map((r) => [r.tx, r.logIndex])], (_, v) => (typeof v === 'bigint' ? v.toString() : v));
    if (sig === last) return;
    last = sig;
    summary.replaceChildren('Claimable now: ', amount(c.total_claimable_wei), ` in ${held.length} token${held.length === 1 ? '' : 's'}.`);
    summary.setAttribute('data-total-claimable', c.total_claimable_wei);
    heldSlot.replaceChildren(
      table(
        'Model tokens in this wallet',
        ['Model', 'Token', 'Balance', 'Claimable', 'Redeemable by burning all', 'Burn'],
        held.map((t) => [
          h('a', { href: `#/models/${encodeURIComponent(t.model_id)}` }, name(t)),
          h('span', {}, `${t.symbol} `, hex(t.token_address)),
          h('span', { 'data-balance': t.balance }, tokenAmount(t.balance, t.symbol)),
          amount(t.claimable_wei),
          amount(t.redeemable_on_burn_wei),
          BigInt(t.balance) > 0n ? burnForm(t) : '—',
        ]),
        { class: 'held' },
      ),
    );
    const claimable = c.tokens.filter((t) => BigInt(t.claimable_wei) > 0n);
    claimSlot.replaceChildren(
      table(
        'Claimable revenue per model and snapshot',
        ['Model', 'Snapshot', 'Claimable'],
        claimable.flatMap((t) =>
          t.snapshots
            .filter((s) => BigInt(s.claimable_wei) > 0n)
            .map((s) => [name(t), h('span', { 'data-snapshot': s.snapshot_id }, String(s.snapshot_id)), amount(s.claimable_wei)]),
        ),
        { class: 'claimable' },
      ),
      h(
        'div',
        { class: 'actions' },
        claimable.map((t) => {
          const b = h(
            'button',
            { type: 'button', 'data-token': t.token_address, 'data-claim-wei': t.claimable_wei },
            `Claim ${amount(t.claimable_wei).textContent} from ${t.symbol} (${t.snapshots.length} snapshot${t.snapshots.length === 1 ? '' : 's'}, one transaction)`,
          );
          b.addEventListener('click', () => void claim(t));
          return b;
        }),
      ),
    );
    historySlot.replaceChildren(
      table(
        'Your claims and burns, newest first',
        ['Block', 'Token', 'What', 'Received', 'Transaction'],
        rows.map((r) => [String(r.block), r.symbol, r.what, amount(r.wei), hex(r.tx)]),
        { class: 'history' },
      ),
    );
  }

  return {
    el,
    refresh: async () => {
      try {
        await refresh();
      } catch (e) {
        throw new Error(errorText(e));
      }
    },
    pollMs: 3000,
    dispose() {},
  };
}

function at(l: Log): { block: bigint; logIndex: number; tx: string } {
  return { block: l.blockNumber ?? 0n, logIndex: l.logIndex ?? 0, tx: l.transactionHash ?? '' };
}
