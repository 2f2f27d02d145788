// One model (public): what it takes and returns, its weights commitment (every tensor's leaf
// can be checked against the weights root here, in the browser), its token and its revenue.

import { bytesToHex, hexToBytes } from 'viem';

import { get, getOrNull } from '../api';
import { card, fact, h, statusLine, table } from '../dom';
import { bytes, time } from '../format';
import type { Contracts, Model, Revenue, Token, WeightList } from '../types';
import { amount, errorText, hex, tokenAmount, tx } from '../ui';
import { rootKey } from '../timeline';
import { mth, verifyInclusion, weightLeaf } from '../verify';
import type { View } from './view';

interface WeightProof {
  index: number;
  count: number;
  leaf: string;
  proof: string[];
  weights_root: string;
}

const DTYPES: Record<number, string> = {
  1: 'FLOAT',
  2: 'UINT8',
  3: 'INT8',
  4: 'UINT16',
  5: 'INT16',
  6: 'INT32',
  7: 'INT64',
  8: 'STRING',
  9: 'BOOL',
  10: 'FLOAT16',
  11: 'DOUBLE',
  12: 'UINT32',
  13: 'UINT64',
  14: 'COMPLEX64',
  15: 'COMPLEX128',
  16: 'BFLOAT16',
};

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function shape(dims: number[]): string {
  return `[${dims.map((d) => (d < 0 ? '?' : String(d))).join(', ')}]`;
}

export function modelPage(id: string, contracts: Contracts | null): View {
  const head = h('div', {}, h('h1', {}, 'Model'), h('p', {}, 'Loading…'));
  const tokenSlot = h('div');
  const weightsSlot = h('div');
  const el = h('div', { class: 'view' }, head, tokenSlot, weightsSlot);
  let model: Model | null = null;
  let weights: WeightList | null = null;

  /** Recomputes the weights root from every tensor's leaf (RFC 6962 over the leaves in
   * commitment order), and checks the service's inclusion proofs of the first and last tensor. */
  async function verifyAll(status: ReturnType<typeof statusLine>, button: HTMLButtonElement): Promise<void> {
    if (!model || !weights) return;
    const m = model;
    const list = weights.tensors;
    button.disabled = true;
    try {
      status.busy(`Hashing ${list.length} tensors…`);
      const leaves = list.map((t) => weightLeaf(t.name, t.data_type, t.dims, t.data_sha256));
      const enc = new TextEncoder();
      const ordered = list.every((t, i) => i === 0 || compareBytes(enc.encode(list[i - 1]!.name), enc.encode(t.name)) < 0);
      const root = bytesToHex(mth(leaves.map((l) => hexToBytes(l))));
      const rootOk = root === rootKey(m.weights_root);
      const sample = [...new Set([0, list.length - 1])].filter((i) => i >= 0);
      const proofs = await Promise.all(sample.map((i) => get<WeightProof>(`/v1/models/${encodeURIComponent(m.id)}/weights/${i}/proof`)));
      const proofsOk = proofs.every(
        (p, k) =>
          p.count === list.length &&
          rootKey(p.leaf) === leaves[sample[k]!] &&
          verifyInclusion(leaves[sample[k]!]!, sample[k]!, list.length, p.proof, m.weights_root),
      );
      for (const t of list) {
        const cell = weightsSlot.querySelector(`[data-tensor="${t.index}"]`);
        if (!cell) continue;
        cell.textContent = rootOk ? 'included ✓' : 'not verified ✗';
        cell.className = rootOk ? 'ok-text' : 'error-text';
        cell.setAttribute('data-verified', String(rootOk));
      }
      if (rootOk && ordered && proofsOk) {
        status.ok(
          `All ${list.length} tensors are included under the weights root ${m.weights_root}: recomputed here from their leaves, and the service's inclusion proofs check out.`,
        );
      } else {
        status.error(
          [
            rootOk ? null : `the root recomputed from the tensors is ${root}, not ${m.weights_root}`,
            ordered ? null : 'the tensors are not in canonical-name order',
            proofsOk ? null : "the service's inclusion proofs do not verify",
          ]
            .filter(Boolean)
            .join('; '),
        );
      }
    } catch (e) {
      status.error(`The check stopped: ${errorText(e)}`);
    } finally {
      button.disabled = false;
    }
  }

  async function load(): Promise<void> {
    const m = await get<Model>(`/v1/models/${encodeURIComponent(id)}`);
    model = m;
    weights = await get<WeightList>(`/v1/models/${encodeURIComponent(m.id)}/weights`);
    head.replaceChildren(
      h('h1', {}, `Model ${m.name}`),
      h('p', { class: 'lede' }, m.description || 'No description.'),
      h(
        'dl',
        { class: 'facts' },
        fact('Id', {}, h('code', {}, m.id)),
        fact('Version', {}, m.version),
        fact('Publisher', {}, hex(m.publisher, 8)),
        fact('Price per call', {}, amount(m.price_wei)),
        fact('Serving', {}, m.active ? 'active' : 'deactivated (no longer served)'),
        fact('File', {}, `${bytes(m.file_size)}, SHA-256 `, hex(m.file_sha256, 8)),
        fact(
          'ONNX',
          {},
          `IR ${m.ir_version}, opsets ${m.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}${m.producer ? `, by ${m.producer}` : ''}`,
        ),
        fact('Registered', {}, time(m.created_at_ms)),
      ),
      h(
        'div',
        { class: 'two-col' },
        table(
          'Inputs',
          ['Name', 'Datatype', 'Shape'],
          m.inputs.map((t) => [h('code', {}, t.name), t.datatype, shape(t.shape)]),
          { class: 'inputs' },
        ),
        table(
          'Outputs',
          ['Name', 'Datatype', 'Shape'],
          m.outputs.map((t) => [h('code', {}, t.name), t.datatype, shape(t.shape)]),
          { class: 'outputs' },
        ),
      ),
    );
    const status = statusLine();
    const button = h('button', { type: 'button' }, `Verify all ${weights.tensors.length} tensors in the browser`);
    button.addEventListener('click', () => void verifyAll(status, button));
    const list = table(
      'Weight tensors in commitment order',
      ['#', 'Canonical name', 'Type', 'Dims', 'Bytes', 'Data SHA-256', 'Inclusion'],
      weights.tensors.map((t) => [
        String(t.index),
        h('code', {}, t.name || '(unnamed)'),
        DTYPES[t.data_type] ?? String(t.data_type),
        shape(t.dims),
        String(t.byte_len),
        hex(t.data_sha256),
        h('span', { 'data-tensor': t.index }, 'not checked'),
      ]),
      { class: 'tensors' },
    );
    // A long list stays folded (a large model has hundreds of tensors).
    const tensors =
      weights.tensors.length > 25 ? h('details', {}, h('summary', {}, `Show the ${weights.tensors.length} weight tensors`), list) : list;
    weightsSlot.replaceChildren(
      card(
        'weights',
        'Weights commitment',
        h(
          'p',
          {},
          'Weights root (RFC 6962 Merkle root over every weight tensor, SHA-256): ',
          h('code', { class: 'root', 'data-root': m.weights_root }, m.weights_root),
          `. ${m.tensor_count} tensors; this root is what the token registers on-chain.`,
        ),
        button,
        status.el,
        tensors,
      ),
    );
  }

  let lastToken = '';
  async function refresh(): Promise<void> {
    if (!model) await load();
    if (!contracts || !model) return;
    const [t, rev] = await Promise.all([
      getOrNull<Token>(`/v1/models/${encodeURIComponent(model.id)}/token`),
      getOrNull<Revenue>(`/v1/models/${encodeURIComponent(model.id)}/revenue`),
    ]);
    const sig = JSON.stringify([t, rev]);
    if (sig === lastToken) return;
    lastToken = sig;
    tokenSlot.replaceChildren(
      card(
        'token',
        'Token and revenue',
        t
          ? h(
              'dl',
              { class: 'facts' },
              fact(
                'Token',
                { 'data-token-state': t.state },
                `${t.name} (${t.symbol}), ${t.state}`,
                t.token_address ? [' at ', hex(t.token_address, 8)] : null,
              ),
              fact('Supply', {}, tokenAmount(t.supply, t.symbol)),
              fact("Holders' share", {}, `${(t.holders_bps / 100).toFixed(2)} % of revenue (the rest is redeemable by burning)`),
              fact('Registration', {}, tx(t.transaction)),
            )
          : h('p', {}, 'Not tokenized.'),
        rev
          ? [
              h('p', {}, 'Paid to the token so far: ', amount(rev.total_paid_wei), '.'),
              table(
                'Payouts by epoch',
                ['Epoch', 'Paid (after fee)', 'Snapshot', 'Transaction'],
                rev.paid.map((p) => [String(p.epoch), amount(p.amount_wei), String(p.snapshot_id), hex(p.tx_hash)]),
              ),
              rev.pending.length
                ? table(
                    'Attested, not yet paid',
                    ['Epoch', 'State', 'Gross'],
                    rev.pending.map((p) => [String(p.epoch), p.state, amount(p.gross_wei)]),
                  )
                : null,
            ]
          : null,
      ),
    );
  }

  return { el, refresh, pollMs: 3000, dispose() {} };
}
