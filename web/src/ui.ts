// Shared pieces of the views: amounts, hashes, transactions, sign-in, the wallet button, and
// the live poller.

import { createSiweMessage } from 'viem/siwe';

import { ApiError, post, session, setSession, signInWithKey } from './api';
import { card, field, h, statusLine } from './dom';
import { eth, short, tokens } from './format';
import type { IssuedKey, Nonce, Transaction } from './types';
import { connect, injected, message, ready, wallet, walletClient } from './wallet';

/** An amount of wei: readable text, the exact value in `data-wei` and the title. */
export function amount(wei: string | bigint, digits = 6): HTMLElement {
  const v = typeof wei === 'bigint' ? wei : BigInt(wei);
  return h('span', { class: 'amount', 'data-wei': v.toString(), title: `${v.toString()} wei` }, eth(v, digits));
}

export function tokenAmount(units: string | bigint, symbol: string): HTMLElement {
  const v = typeof units === 'bigint' ? units : BigInt(units);
  return h('span', { class: 'amount', 'data-units': v.toString(), title: `${v.toString()} base units` }, `${tokens(v)} ${symbol}`);
}

/** A long hex value, shortened, with the full value in the title and `data-hex`. */
export function hex(value: string, keep = 6): HTMLElement {
  return h('code', { class: 'hex', title: value, 'data-hex': value }, short(value, keep));
}

/** An operator transaction: its state and hash. */
export function tx(t: Transaction | null | undefined): HTMLElement | string {
  if (!t) return '—';
  return h(
    'span',
    { class: 'tx', 'data-tx-state': t.state, 'data-tx-hash': t.tx_hash ?? '' },
    h('span', { class: `badge badge-tx-${t.state}` }, t.state),
    ' ',
    t.tx_hash ? hex(t.tx_hash) : 'not sent yet',
    t.error ? h('span', { class: 'error-text' }, ` ${t.error}`) : null,
  );
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return `${e.message} (${e.code})`;
  return message(e);
}

/** Sign in to the API: paste a key, or Sign-In with Ethereum with the connected wallet. */
export function signInPanel(role: 'publisher' | 'client', why: string): HTMLElement {
  const keyInput = h('input', {
    type: 'password',
    name: 'api-key',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    placeholder: 'imo_…',
  });
  const keyStatus = statusLine();
  const keyForm = h(
    'form',
    { class: 'stack', 'aria-label': 'Sign in with an API key', novalidate: true },
    field('API key', keyInput, 'Shown once when the key was created (imo keys create, or Sign-In with Ethereum).'),
    h('button', { type: 'submit' }, 'Sign in with the key'),
    keyStatus.el,
  );
  keyForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!keyInput.value.trim()) {
      keyStatus.error('Enter your API key.');
      return;
    }
    keyStatus.busy('Checking the key…');
    try {
      const s = await signInWithKey(keyInput.value.trim());
      keyStatus.ok(`Signed in as ${s.address} (${s.role}).`);
    } catch (e) {
      keyStatus.error(`The key was refused: ${errorText(e)}`);
    }
  });

  const siweStatus = statusLine();
  const siweButton = h('button', { type: 'button' }, `Sign in with Ethereum as ${role}`);
  siweButton.addEventListener('click', async () => {
    siweButton.disabled = true;
    siweStatus.busy('Asking the wallet to sign the sign-in message…');
    try {
      const s = await siwe(role);
      siweStatus.ok(`Signed in as ${s.address} (${s.role}).`);
    } catch (e) {
      siweStatus.error(`Sign-in failed: ${errorText(e)}`);
    } finally {
      siweButton.disabled = false;
    }
  });
  return h(
    'section',
    { class: 'card sign-in', 'aria-labelledby': 'signin-title' },
    h('h2', { id: 'signin-title' }, 'Sign in'),
    h('p', {}, why),
    h(
      'div',
      { class: 'two-col' },
      keyForm,
      h(
        'div',
        { class: 'stack' },
        h('p', {}, 'Or prove you own your address with your wallet (EIP-4361); the service issues a key for it.'),
        siweButton,
        siweStatus.el,
      ),
    ),
  );
}

/** Sign-In with Ethereum: nonce → EIP-4361 message → personal_sign → API key. */
export async function siwe(role: 'publisher' | 'client'): Promise<{ address: string; role: string }> {
  const w = wallet() ?? (await connect());
  const nonce = await post<Nonce>(`/v1/auth/nonce?address=${w.address}`, undefined);
  const msg = createSiweMessage({
    domain: nonce.domain,
    address: w.address,
    statement: `Sign in to imo-oracle as ${role}.`,
    uri: location.origin,
    version: '1',
    chainId: nonce.chain_id,
    nonce: nonce.nonce,
    issuedAt: new Date(),
    expirationTime: new Date(nonce.expires_at_ms),
  });
  const signature = await walletClient().signMessage({ account: w.address, message: msg });
  const key = await post<IssuedKey>('/v1/auth/siwe', { message: msg, signature, role });
  setSession({ key: key.key, address: key.address, role: key.role, keyId: key.id });
  return { address: key.address, role: key.role };
}

/** Asks for a wallet, with a button, when none is connected. */
export function connectPanel(why: string): HTMLElement {
  const status = statusLine();
  const button = h('button', { type: 'button' }, 'Connect wallet');
  button.addEventListener('click', async () => {
    status.busy('Waiting for the wallet…');
    try {
      await ready();
      status.clear();
    } catch (e) {
      status.error(message(e));
    }
  });
  return card(
    'connect',
    'Connect your wallet',
    h('p', {}, why),
    injected() ? button : h('p', { class: 'error-text' }, 'No Ethereum wallet was found in this browser (window.ethereum).'),
    status.el,
  );
}

export function signedIn(roles: string[]): boolean {
  const s = session();
  return !!s && (roles.includes(s.role) || s.role === 'admin');
}

/** Runs `tick` now and then every `ms` while the page is visible, until stopped. */
export class Poller {
  private timer: number | undefined;
  private running = false;
  private stopped = false;

  constructor(
    private readonly ms: number,
    private readonly tick: () => Promise<void>,
    private readonly onError: (e: unknown) => void,
  ) {
    document.addEventListener('visibilitychange', this.wake);
  }

  private readonly wake = () => {
    if (!document.hidden) void this.run();
  };

  async run(): Promise<void> {
    if (this.stopped || this.running) return;
    window.clearTimeout(this.timer);
    this.running = true;
    try {
      await this.tick();
    } catch (e) {
      this.onError(e);
    } finally {
      this.running = false;
      if (!this.stopped && !document.hidden) this.timer = window.setTimeout(() => void this.run(), this.ms);
    }
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    document.removeEventListener('visibilitychange', this.wake);
  }
}
