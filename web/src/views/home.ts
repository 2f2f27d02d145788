// Overview (public): where the contracts are, the models, and the live epochs timeline — the
// royalty cycle as it happens.

import { get } from '../api';
import { card, fact, h, table } from '../dom';
import { eth } from '../format';
import { TimelineTable } from '../timeline';
import type { Contracts, ModelList, Timeline } from '../types';
import { amount, hex } from '../ui';
import type { View } from './view';

export function home(contracts: Contracts | null): View {
  const modelsSlot = h('div');
  const timeline = new TimelineTable('Epochs, newest first', () => null);
  const el = h(
    'div',
    { class: 'view' },
    h('h1', {}, 'Overview'),
    h(
      'p',
      { class: 'lede' },
      'Publishers register ONNX models and tokenize them; clients prepay and call them; every call is metered with a signed receipt; ',
      "each epoch is attested on-chain, can be challenged, and is then finalized, paying the model's token holders.",
    ),
    contracts
      ? card(
          'contracts',
          'Contracts',
          h(
            'dl',
            { class: 'facts' },
            fact('Chain id', { 'data-chain-id': contracts.chain_id }, String(contracts.chain_id)),
            fact('ModelRegistry', {}, hex(contracts.model_registry, 8)),
            fact('PaymentVault', {}, hex(contracts.payment_vault, 8)),
            fact('UsageOracle', {}, hex(contracts.usage_oracle, 8)),
            fact('Operator', {}, hex(contracts.operator, 8)),
            fact('Attestation bond', {}, amount(contracts.attest_bond_wei)),
            fact('Epoch / challenge window', {}, `${contracts.epoch_secs} s / ${contracts.challenge_window_secs} s`),
            fact('Operator fee', {}, `${(contracts.fee_bps / 100).toFixed(2)} %`),
          ),
        )
      : h(
          'section',
          { class: 'card' },
          h('h2', {}, 'Chain'),
          h('p', {}, 'The chain loop of this service is off: no tokens, attestations or claims.'),
        ),
    card('models', 'Models', modelsSlot),
    contracts ? card('epochs', 'Epochs', timeline.el) : null,
  );

  let lastModels = '';
  async function refresh(): Promise<void> {
    const [models, t] = await Promise.all([
      get<ModelList>('/v1/models', { query: { limit: 100 } }),
      contracts ? get<Timeline>('/v1/epochs', { query: { limit: 20 } }) : Promise.resolve(null),
    ]);
    const sig = JSON.stringify(models);
    if (sig !== lastModels) {
      lastModels = sig;
      modelsSlot.replaceChildren(
        table(
          'Registered models',
          ['Name', 'Version', 'Price per call', 'Weights root', 'Serving'],
          models.models.map((m) => [
            h('a', { href: `#/models/${encodeURIComponent(m.id)}` }, m.name),
            m.version,
            h('span', { title: `${m.price_wei} wei`, 'data-wei': m.price_wei }, eth(m.price_wei)),
            hex(m.weights_root),
            m.active ? 'active' : 'deactivated',
          ]),
        ),
      );
    }
    if (t) timeline.update(t);
  }

  return { el, refresh, pollMs: 2000, dispose() {} };
}
