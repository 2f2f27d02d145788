// The participant's own wallet: any injected EIP-1193 provider (window.ethereum). Reads and
// writes go to the contracts through it; the service never sees a key.

import {
  type Abi,
  type Address,
  type Chain,
  type EIP1193Provider,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
  type WalletClient,
  BaseError,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  getAddress,
} from 'viem';

declare global {
  interface Window {
    ethereum?: EIP1193Provider;
  }
}

export interface WalletState {
  address: Address;
  chainId: number;
}

const REMEMBER = 'imo.wallet';
let state: WalletState | null = null;
let expectedChain: number | null = null;
const listeners = new Set<() => void>();
let subscribed = false;

export function injected(): EIP1193Provider | undefined {
  return window.ethereum;
}

export function wallet(): WalletState | null {
  return state;
}

export function onWallet(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

function emit(): void {
  for (const f of listeners) f();
}

/** The chain the service settles on (`GET /v1/contracts`); the wallet must be on it. */
export function setExpectedChain(id: number): void {
  expectedChain = id;
}

function chain(id: number): Chain {
  return defineChain({
    id,
    name: `chain ${id}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [] } },
  });
}

function subscribe(p: EIP1193Provider): void {
  if (subscribed) return;
  subscribed = true;
  p.on?.('accountsChanged', (accounts: Address[]) => {
    const first = accounts[0];
    if (!first) {
      state = null;
      localStorage.removeItem(REMEMBER);
    } else if (state) {
      state = { ...state, address: getAddress(first) };
    }
    emit();
  });
  p.on?.('chainChanged', (id: string) => {
    if (state) state = { ...state, chainId: Number(BigInt(id)) };
    emit();
  });
}

async function read(p: EIP1193Provider, ask: boolean): Promise<WalletState | null> {
  const accounts = (await p.request({ method: ask ? 'eth_requestAccounts' : 'eth_accounts' })) as Address[];
  const first = accounts[0];
  if (!first) return null;
  const id = (await p.request({ method: 'eth_chainId' })) as Hex;
  return { address: getAddress(first), chainId: Number(BigInt(id)) };
}

/** Asks the wallet for an account (the wallet may prompt). */
export async function connect(): Promise<WalletState> {
  const p = injected();
  if (!p) throw new Error('no wallet found: install an Ethereum wallet extension (an EIP-1193 provider, window.ethereum)');
  subscribe(p);
  const s = await read(p, true);
  if (!s) throw new Error('the wallet returned no account');
  state = s;
  localStorage.setItem(REMEMBER, '1');
  emit();
  return s;
}

/** Reconnects without a prompt if this page was connected before. */
export async function restore(): Promise<void> {
  const p = injected();
  if (!p || !localStorage.getItem(REMEMBER)) return;
  subscribe(p);
  try {
    state = await read(p, false);
  } catch {
    state = null;
  }
  emit();
}

export function disconnect(): void {
  state = null;
  localStorage.removeItem(REMEMBER);
  emit();
}

/** The connected wallet, on the service's chain (asks the wallet to switch if it is not). */
export async function ready(): Promise<WalletState> {
  const p = injected();
  const s = state ?? (await connect());
  if (!p) throw new Error('no wallet');
  if (expectedChain !== null && s.chainId !== expectedChain) {
    try {
      await p.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: `0x${expectedChain.toString(16)}` }] });
    } catch (e) {
      throw new Error(
        `the wallet is on chain ${s.chainId}; this service settles on chain ${expectedChain}: switch networks in the wallet (${message(e)})`,
      );
    }
    const now = await read(p, false);
    if (!now || now.chainId !== expectedChain) throw new Error(`the wallet did not switch to chain ${expectedChain}`);
    state = now;
    emit();
  }
  return state as WalletState;
}

export function publicClient(): PublicClient {
  const p = injected();
  const s = state;
  if (!p || !s) throw new Error('connect a wallet first');
  return createPublicClient({ chain: chain(s.chainId), transport: custom(p), pollingInterval: 500 });
}

export function walletClient(): WalletClient {
  const p = injected();
  const s = state;
  if (!p || !s) throw new Error('connect a wallet first');
  return createWalletClient({ account: s.address, chain: chain(s.chainId), transport: custom(p), pollingInterval: 500 });
}

/** Sends a contract call from the wallet and waits for it to be mined; throws if it reverted. */
export async function send(args: {
  address: Address;
  abi: Abi;
  functionName: string;
  args?: readonly unknown[];
  value?: bigint;
}): Promise<TransactionReceipt> {
  const s = await ready();
  const pc = publicClient();
  // Simulate first: a revert is reported with the contract's reason and costs nothing.
  const { request } = await pc.simulateContract({ ...args, account: s.address } as Parameters<PublicClient['simulateContract']>[0]);
  const hash = await walletClient().writeContract(request as Parameters<WalletClient['writeContract']>[0]);
  const receipt = await pc.waitForTransactionReceipt({ hash, timeout: 120_000 });
  if (receipt.status !== 'success') throw new Error(`transaction ${hash} reverted`);
  return receipt;
}

/** A short, readable message for any error (viem's, the wallet's, ours). */
export function message(e: unknown): string {
  if (e instanceof BaseError) return e.shortMessage || e.message;
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}
