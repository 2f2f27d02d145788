// Client: prepaid balance and spending cap (the service's ledger and the vault on-chain),
// deposits, spending authorisation and withdrawals from the wallet, their history, and the
// receipts with their proof status and an in-browser check of each one against the chain.

import { type Address, type Hex, getAddress, parseEther } from 'viem';

import { ApiError, get, getOrNull, post, session } from '../api';
import { card, fact, field, h, statusLine, table } from '../dom';
import { time } from '../format';
import { paymentVaultAbi, usageOracleAbi } from '../generated/abis';
import type { Balance, Contracts, Epoch, Operator, Receipt, ReceiptList, ReceiptProof } from '../types';
import { amount, connectPanel, errorText, hex, signInPanel, signedIn } from '../ui';
import {
  type Domain,
  bytes32,
  computeRoot,
  leafHash,
  proofStatus,
  receiptDigest,
  receiptHash,
  receiptSigner,
  receiptStruct,
} from '../verify';
import { message, publicClient, ready, send, wallet, walletClient } from '../wallet';
import type { View } from './view';

const SHOWN = 100;

export function client(contracts: Contracts | null): View {
  const signed = signedIn(['client']);
  const w = wallet();
  const me = session();
  const balanceSlot = h('div');
  const vaultSlot = h('div');
  const historySlot = h('div');
  const receiptsSlot = h('div');
  const verifySlot = h('div', { id: 'verify-result', 'aria-live': 'polite', tabindex: -1 });
  const el = h('div', { class: 'view' }, h('h1', {}, 'Client'));
  if (!signed) {
    el.append(
      signInPanel('client', 'Sign in with your client API key, or with your wallet, to see your balance, spending cap and receipts.'),
    );
  } else {
    el.append(
      h('p', { class: 'lede' }, 'Signed in as ', hex(me!.address, 8), '.'),
      card('balance', "Balance (the service's ledger)", balanceSlot),
    );
  }
  if (contracts) {
    if (!w) {
      el.append(connectPanel('Connect your wallet to deposit, authorise spending, withdraw, and verify receipts against the chain.'));
    } else {
      if (signed && me && getAddress(me.address) !== w.address) {
        el.append(
          h(
            'p',
            { class: 'warning', role: 'alert' },
            `The wallet (${w.address}) is not the signed-in client (${me.address}): deposits from it credit the wallet's account, not yours.`,
          ),
        );
      }
      el.append(vaultCard(contracts, w.address, vaultSlot), card('vhistory', 'Deposits and withdrawals', historySlot));
    }
  }
  if (signed) {
    el.append(
      card(
        'receipts',
        'Receipts',
        h(
          'p',
          {},
          'Every call is answered with a receipt signed by the operator. Its proof is pending until its epoch is attested on-chain; after the challenge window the epoch is finalized and paid.',
        ),
        verifySlot,
        receiptsSlot,
      ),
    );
  }

  const epochCache = new Map<number, Epoch | null>();
  let operator: Operator | null = null;

  async function epochOf(n: number): Promise<Epoch | null> {
    const cached = epochCache.get(n);
    if (cached && cached.state === 'finalized') return cached;
    const e = contracts ? await getOrNull<Epoch>(`/v1/epochs/${n}`) : null;
    epochCache.set(n, e);
    return e;
  }

  async function verify(r: Receipt, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    const checks: [string, boolean | null, string][] = [];
    const render = (done: boolean) => {
      const failed = checks.some(([, ok]) => ok === false);
      const verdict = !done
        ? 'checking…'
        : failed
          ? 'FAILED'
          : checks.every(([, ok]) => ok)
            ? 'verified'
            : 'signature verified; proof not available yet';
      verifySlot.replaceChildren(
        h(
          'div',
          {
            class: `verify ${failed ? 'bad' : 'good'}`,
            'data-receipt': r.id,
            'data-verdict': done ? (failed ? 'failed' : checks.every(([, ok]) => ok) ? 'verified' : 'partial') : 'running',
          },
          h('h3', {}, `Receipt ${r.id}: ${verdict}`),
          h(
            'ul',
            { class: 'checks' },
            checks.map(([what, ok, detail]) =>
              h(
                'li',
                { 'data-ok': ok === null ? 'skipped' : String(ok) },
                h('span', { class: ok ? 'ok-text' : ok === false ? 'error-text' : 'hint' }, ok ? '✓ ' : ok === false ? '✗ ' : '– '),
                what,
                detail ? h('small', { class: 'hint' }, ` ${detail}`) : null,
              ),
            ),
          ),
        ),
      );
    };
    try {
      await ready();
      const pc = publicClient();
      operator ??= await get<Operator>('/v1/operator');
      const oracle = getAddress(operator.verifying_contract) as Address;
      const domain: Domain = {
        name: operator.eip712_name,
        version: operator.eip712_version,
        chainId: operator.chain_id,
        verifyingContract: oracle,
      };
      const s = receiptStruct(r);
      const digest = receiptDigest(s, domain);
      const signer = await receiptSigner(s, r.signature as Hex, domain);
      checks.push(['The signature recovers to the operator', signer === getAddress(operator.operator), `${signer}`]);
      const onChainSigner = await pc.readContract({
        address: oracle,
        abi: usageOracleAbi,
        functionName: 'isReceiptSigner',
        args: [signer],
      });
      checks.push(['The UsageOracle accepts that signer (on-chain)', onChainSigner, '']);
      const onChainDigest = await pc.readContract({ address: oracle, abi: usageOracleAbi, functionName: 'receiptDigest', args: [s] });
      checks.push(['The contract computes the same EIP-712 digest (on-chain)', onChainDigest === digest, digest]);
      render(false);
      let proof: ReceiptProof | null = null;
      try {
        proof = await get<ReceiptProof>(`/v1/receipts/${r.id}/proof`, { auth: true });
      } catch (e) {
        if (!(e instanceof ApiError && (e.status === 409 || e.status === 404))) throw e;
        checks.push([
          'Merkle proof',
          e.status === 404 ? false : null,
          e.status === 404
            ? `the attested tree left this receipt out: challenge the attestation with it (${e.message})`
            : `not available yet: ${e.message}`,
        ]);
      }
      if (proof) {
        const rh = receiptHash(s);
        checks.push(['The receipt hash matches the proof', rh === bytes32(proof.receipt_hash), rh]);
        const leaf = leafHash(rh, BigInt(proof.model_prev), BigInt(proof.model_cum), BigInt(proof.client_prev), BigInt(proof.client_cum));
        checks.push(['The leaf computed here matches the proof', leaf === bytes32(proof.leaf_hash), leaf]);
        const root = computeRoot(
          leaf,
          BigInt(proof.index),
          proof.proof.map((p) => bytes32(p)),
        );
        checks.push([`The path of ${proof.proof.length} hashes leads to the tree's root`, root === bytes32(proof.root), root]);
        const a = await pc.readContract({
          address: oracle,
          abi: usageOracleAbi,
          functionName: 'getAttestation',
          args: [BigInt(proof.epoch)],
        });
        const status = ['none', 'posted', 'voided', 'finalized'][a.status] ?? String(a.status);
        checks.push([
          `The root is attested on-chain for epoch ${proof.epoch} (${status})`,
          (a.status === 1 || a.status === 3) && a.root === root && a.count === BigInt(proof.count),
          `on-chain root ${a.root}, ${a.count} receipts`,
        ]);
      }
      render(true);
    } catch (e) {
      checks.push(['Verification could not finish', false, errorText(e)]);
      render(true);
    } finally {
      button.disabled = false;
      verifySlot.focus();
    }
  }

  let lastBalance = '';
  let lastReceipts = '';
  let lastVault = '';
  async function refresh(): Promise<void> {
    if (signed) {
      const b = await get<Balance>('/v1/balance', { auth: true });
      const sig = JSON.stringify(b);
      if (sig !== lastBalance) {
        lastBalance = sig;
        balanceSlot.replaceChildren(
          h(
            'dl',
            { class: 'facts balance' },
            fact('Balance', { 'data-field': 'balance' }, amount(b.balance_wei)),
            fact('Available to spend now', { 'data-field': 'available' }, amount(b.available_wei)),
            fact('Spending cap (signed)', { 'data-field': 'cap' }, amount(b.cap_wei)),
            fact('Spent', { 'data-field': 'spent' }, amount(b.spent_wei)),
            fact('Reserved by calls in flight', { 'data-field': 'reserved' }, amount(b.reserved_wei)),
            fact('Held for a withdrawal', { 'data-field': 'held' }, amount(b.held_wei)),
          ),
        );
      }
      await receipts();
    }
    if (contracts && w) await vault(contracts, w.address);
  }

  async function receipts(): Promise<void> {
    let all: Receipt[] = [];
    let after: string | undefined;
    for (let page = 0; page < 20; page++) {
      const list = await get<ReceiptList>('/v1/receipts', { auth: true, query: { limit: 1000, after } });
      all = all.concat(list.receipts);
      if (!list.next) break;
      after = list.next;
    }
    const shown = all.slice(-SHOWN).reverse();
    const epochs = [...new Set(shown.map((r) => r.epoch))];
    const states = new Map<number, string | undefined>();
    await Promise.all(epochs.map(async (n) => states.set(n, (await epochOf(n))?.state)));
    const sig = JSON.stringify([shown.map((r) => r.id), [...states]]);
    if (sig === lastReceipts) return;
    lastReceipts = sig;
    receiptsSlot.replaceChildren(
      h(
        'p',
        { 'data-receipt-count': all.length },
        `${all.length} receipt${all.length === 1 ? '' : 's'}${all.length > SHOWN ? `; the newest ${SHOWN} are shown` : ''}.`,
      ),
      table(
        'Your receipts, newest first',
        ['Time', 'Receipt', 'Model', 'Price', 'Epoch', 'Proof status', 'Check'],
        shown.map((r) => {
          const st = proofStatus(states.get(r.epoch));
          const b = h('button', { type: 'button', class: 'small', 'data-verify': r.id, 'aria-label': `Verify receipt ${r.id}` }, 'Verify');
          b.addEventListener('click', () => void verify(r, b));
          return [
            time(r.timestamp_ms),
            h('code', { 'data-receipt-id': r.id, title: r.id }, r.id.slice(-8)),
            r.model_name,
            amount(r.price_wei),
            String(r.epoch),
            h(
              'span',
              { class: `badge badge-${st}`, 'data-proof-status': st },
              st,
              states.get(r.epoch) && st === 'pending' ? ` (epoch ${states.get(r.epoch)})` : '',
            ),
            b,
          ];
        }),
        { class: 'receipts' },
      ),
    );
  }

  async function vault(c: Contracts, address: Address): Promise<void> {
    const pc = publicClient();
    const v = getAddress(c.payment_vault);
    const read = <T>(functionName: string) =>
      pc.readContract({ address: v, abi: paymentVaultAbi, functionName, args: [address] } as Parameters<
        typeof pc.readContract
      >[0]) as Promise<T>;
    const fromBlock = BigInt(c.deployed_at_block);
    const names = ['Deposited', 'SpendingCapSet', 'WithdrawalRequested', 'WithdrawalCancelled', 'Withdrawn'] as const;
    const [bal, cap, spent, wd, head, ...lists] = await Promise.all([
      read<bigint>('balanceOf'),
      read<bigint>('capOf'),
      read<bigint>('spentOf'),
      read<{ amount: bigint; readyAt: bigint }>('withdrawalOf'),
      pc.getBlock(),
      // Every vault event names the client as an indexed topic: ask for this wallet's only.
      ...names.map((eventName) =>
        pc.getContractEvents({ address: v, abi: paymentVaultAbi, eventName, args: { client: address }, fromBlock }),
      ),
    ]);
    const mine = lists
      .flat()
      .sort((a, b) => Number((b.blockNumber ?? 0n) - (a.blockNumber ?? 0n)) || (b.logIndex ?? 0) - (a.logIndex ?? 0));
    const sig = JSON.stringify(
      [bal, cap, spent, wd, mine.map((e) => [e.transactionHash, e.logIndex]), wd.amount > 0n ? head.timestamp >= wd.readyAt : null],
      (_, x) => (typeof x === 'bigint' ? x.toString() : x),
    );
    if (sig === lastVault) return;
    lastVault = sig;
    vaultSlot.replaceChildren(
      h(
        'dl',
        { class: 'facts vault' },
        fact('Deposited in the vault', { 'data-field': 'vault-balance' }, amount(bal)),
        fact('Spending cap', { 'data-field': 'vault-cap' }, amount(cap)),
        fact('Spent (attested)', { 'data-field': 'vault-spent' }, amount(spent)),
        fact(
          'Withdrawal request',
          { 'data-field': 'vault-withdrawal', 'data-wei': wd.amount.toString() },
          wd.amount > 0n
            ? [
                amount(wd.amount),
                ` ready at ${time(Number(wd.readyAt) * 1000)} (chain time)`,
                head.timestamp >= wd.readyAt ? ' — ready now' : '',
              ]
            : 'none',
        ),
      ),
    );
    historySlot.replaceChildren(
      table(
        'Vault events of this wallet, newest first',
        ['Block', 'Event', 'Amount', 'Transaction'],
        mine.map((e) => {
          const a = e.args as { amount?: bigint; cap?: bigint; readyAt?: bigint };
          const what =
            e.eventName === 'WithdrawalRequested' ? `withdrawal requested (ready at ${time(Number(a.readyAt ?? 0n) * 1000)})` : e.eventName;
          const wei = a.amount ?? a.cap;
          return [String(e.blockNumber), what, wei !== undefined ? amount(wei) : '—', hex(e.transactionHash ?? '')];
        }),
        { class: 'vault-history' },
      ),
    );
  }

  return { el, refresh, pollMs: 2000, dispose() {} };
}

/** Deposit, authorise spending and withdraw, from the wallet. */
function vaultCard(c: Contracts, address: Address, slot: HTMLElement): HTMLElement {
  const vault = getAddress(c.payment_vault);
  const status = statusLine();
  const ethField = (name: string) => h('input', { type: 'text', name, inputmode: 'decimal', required: true, autocomplete: 'off' });
  const parse = (input: HTMLInputElement): bigint | null => {
    try {
      const v = parseEther(input.value.trim());
      return v > 0n ? v : null;
    } catch {
      return null;
    }
  };
  const depositIn = ethField('deposit-eth');
  const capIn = ethField('cap-eth');
  const withdrawIn = ethField('withdraw-eth');
  const run = async (what: string, f: () => Promise<string>) => {
    status.busy(`${what}: confirm in your wallet…`);
    try {
      status.ok(await f());
    } catch (e) {
      status.error(`${what} failed: ${e instanceof ApiError ? errorText(e) : message(e)}`);
    }
  };
  const form = (label: string, input: HTMLInputElement, hint: string, button: string, act: (v: bigint) => Promise<string>) => {
    const f = h(
      'form',
      { class: 'stack inline', 'aria-label': button, novalidate: true },
      field(label, input, hint),
      h('button', { type: 'submit' }, button),
    );
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = parse(input);
      if (v === null) {
        status.error(`${label}: enter an amount of ETH above 0.`);
        return;
      }
      void run(button, async () => {
        const msg = await act(v);
        input.value = '';
        return msg;
      });
    });
    return f;
  };
  const deposit = form(
    'Deposit (ETH)',
    depositIn,
    'Sent from your wallet to the PaymentVault; counted once the service has indexed it.',
    'Deposit',
    async (v) => {
      const r = await send({ address: vault, abi: paymentVaultAbi, functionName: 'deposit', value: v });
      slot.setAttribute('data-last-deposit-tx', r.transactionHash);
      return `Deposited ${amount(v).textContent} in transaction ${r.transactionHash} (gas ${r.gasUsed}).`;
    },
  );
  const cap = form(
    'New spending cap (ETH, lifetime total)',
    capIn,
    'You sign it (EIP-712, no gas); the operator submits it to the vault.',
    'Sign and submit the cap',
    async (v) => {
      const w = await ready();
      const head = await publicClient().getBlock();
      const deadline = head.timestamp + 3600n;
      const signature = await walletClient().signTypedData({
        account: w.address,
        domain: { name: 'IMO Oracle Vault', version: '1', chainId: c.chain_id, verifyingContract: vault },
        types: {
          SpendingCap: [
            { name: 'client', type: 'address' },
            { name: 'cap', type: 'uint256' },
            { name: 'deadline', type: 'uint256' },
          ],
        },
        primaryType: 'SpendingCap',
        message: { client: w.address, cap: v, deadline },
      });
      await post('/v1/spending-caps', { client: w.address, cap_wei: v.toString(), deadline: Number(deadline), signature }, { auth: true });
      return `Spending cap of ${amount(v).textContent} signed and submitted; it counts once the vault's event is indexed.`;
    },
  );
  const request = form(
    'Withdrawal (ETH)',
    withdrawIn,
    `Request it now; withdraw after the vault's delay.`,
    'Request withdrawal',
    async (v) => {
      const r = await send({ address: vault, abi: paymentVaultAbi, functionName: 'requestWithdrawal', args: [v] });
      return `Withdrawal of ${amount(v).textContent} requested in transaction ${r.transactionHash}.`;
    },
  );
  const withdraw = h('button', { type: 'button' }, 'Withdraw what is ready');
  withdraw.addEventListener(
    'click',
    () =>
      void run('Withdraw', async () => {
        const r = await send({ address: vault, abi: paymentVaultAbi, functionName: 'withdraw' });
        slot.setAttribute('data-last-withdraw-tx', r.transactionHash);
        return `Withdrawn in transaction ${r.transactionHash} (gas ${r.gasUsed}).`;
      }),
  );
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel the withdrawal request');
  cancel.addEventListener(
    'click',
    () =>
      void run('Cancel', async () => {
        const r = await send({ address: vault, abi: paymentVaultAbi, functionName: 'cancelWithdrawal' });
        return `Withdrawal request cancelled in transaction ${r.transactionHash}.`;
      }),
  );
  return card(
    'vault',
    'Your account in the PaymentVault (on-chain)',
    h('p', {}, 'Wallet ', hex(address, 8), '.'),
    slot,
    status.el,
    h('div', { class: 'forms' }, deposit, cap, request, h('div', { class: 'stack inline' }, withdraw, cancel)),
  );
}
