// The epochs timeline (GET /v1/epochs): each closed epoch's receipts, revenue, state and the
// operator's attest and finalize transactions. Updated in place by the views' pollers.

import { h, table } from './dom';
import { time, timeShort } from './format';
import type { Timeline, TimelineEntry } from './types';
import { amount, hex, tx } from './ui';

const STATE_TEXT: Record<string, string> = {
  closed: 'closed, attestation queued',
  attesting: 'attesting',
  attested: 'attested, in the challenge window',
  finalizing: 'finalizing',
  finalized: 'finalized, paid',
  voided: 'voided by a challenge',
  unwinding: 'unwinding',
  attest_failed: 'attestation failed',
};

export function stateText(state: string): string {
  return STATE_TEXT[state] ?? state;
}

/** A weights root as a set key: `0x` and lower case (the API writes it with or without `0x`). */
export function rootKey(root: string): string {
  return `0x${root.replace(/^0x/i, '').toLowerCase()}`;
}

/** The part of an epoch that concerns `roots` (all models when null; keys from `rootKey`). */
export function share(e: TimelineEntry, roots: Set<string> | null): { calls: number; total: bigint; paid: bigint } {
  let calls = 0;
  let total = 0n;
  let paid = 0n;
  for (const m of e.models) {
    if (roots && !roots.has(rootKey(m.weights_root))) continue;
    calls += m.calls;
    total += BigInt(m.total_wei);
    paid += BigInt(m.paid_wei ?? '0');
  }
  return { calls, total, paid };
}

export class TimelineTable {
  readonly el: HTMLElement;
  private readonly head: HTMLElement;
  private readonly body: HTMLElement;
  private last = '';

  constructor(
    private readonly caption: string,
    private readonly roots: () => Set<string> | null,
  ) {
    this.head = h('p', { class: 'epoch-now', 'aria-live': 'polite' });
    this.body = h('div');
    this.el = h('div', { class: 'timeline' }, this.head, this.body);
  }

  update(t: Timeline): void {
    const roots = this.roots();
    // Re-render only on change, so that focus and selection survive the polls.
    const sig = JSON.stringify([t, roots ? [...roots] : null]);
    if (sig === this.last) return;
    this.last = sig;
    const closes = (t.current_epoch + 1) * t.epoch_secs * 1000;
    this.head.replaceChildren(
      `Epoch ${t.current_epoch} is open (epochs of ${t.epoch_secs} s; it closes at ${timeShort(closes)}). Challenge window: ${t.challenge_window_secs} s after each attestation.`,
    );
    const rows = t.epochs.map((e) => {
      const s = share(e, roots);
      const models = e.models
        .filter((m) => !roots || roots.has(rootKey(m.weights_root)))
        .map((m) =>
          h(
            'li',
            {},
            h('a', { href: `#/models/${encodeURIComponent(m.model_id)}` }, m.model_name || m.weights_root.slice(0, 10)),
            `: ${m.calls} call${m.calls === 1 ? '' : 's'}, `,
            amount(m.total_wei),
            m.paid_wei ? [' → paid ', amount(m.paid_wei), m.snapshot_id ? ` (snapshot ${m.snapshot_id})` : ''] : null,
          ),
        );
      return [
        h(
          'span',
          { class: 'epoch-id', 'data-epoch': e.epoch, 'data-state': e.state },
          `${e.epoch}`,
          e.round > 1 ? ` (round ${e.round})` : '',
        ),
        h('span', {}, `${timeShort(e.starts_at_ms)}–${timeShort(e.ends_at_ms)}`),
        h('span', { class: `badge badge-${e.state}`, 'data-state': e.state }, stateText(e.state)),
        h('span', { 'data-calls': s.calls }, `${s.calls}`, roots ? ` of ${e.count}` : ''),
        amount(s.total),
        models.length ? h('ul', { class: 'plain' }, models) : '—',
        tx(e.attest),
        h(
          'span',
          {},
          tx(e.finalize),
          e.state === 'attested' && e.finalizable_at
            ? h('small', { class: 'hint' }, ` finalizable from ${time(e.finalizable_at * 1000)} (chain time)`)
            : null,
        ),
        e.root ? hex(e.root) : '—',
      ];
    });
    this.body.replaceChildren(
      table(
        this.caption,
        ['Epoch', 'Time', 'State', 'Calls', 'Revenue (attested)', 'Models', 'Attest tx', 'Finalize tx', 'Receipt root'],
        rows,
        { class: 'epochs' },
      ),
    );
    // Mark rows for tests and styles.
    this.body.querySelectorAll('tbody tr').forEach((tr, i) => {
      const e = t.epochs[i];
      if (e) {
        tr.setAttribute('data-epoch', String(e.epoch));
        tr.setAttribute('data-state', e.state);
      }
    });
  }
}
