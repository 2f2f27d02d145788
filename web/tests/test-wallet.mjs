// A wallet for the browser tests: an EIP-1193 provider injected into the page as
// window.ethereum that signs with a private key held here, in Node (an anvil dev key), and
// forwards everything else to the chain's RPC. Its key can be switched (accountsChanged), and
// it records every transaction it sends.

import { createWalletClient, defineChain, getAddress, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

const PAGE_SHIM = () => {
  const listeners = {};
  const provider = {
    isImoTestWallet: true,
    async request({ method, params }) {
      const r = await window.__imoTestWallet(method, params ?? []);
      if (r && typeof r === 'object' && r.__error) {
        const e = new Error(r.__error.message);
        e.code = r.__error.code;
        if (r.__error.data !== undefined) e.data = r.__error.data;
        throw e;
      }
      return r;
    },
    on(event, f) {
      (listeners[event] ??= []).push(f);
      return provider;
    },
    removeListener(event, f) {
      listeners[event] = (listeners[event] ?? []).filter((x) => x !== f);
      return provider;
    },
    __emit(event, arg) {
      for (const f of listeners[event] ?? []) f(arg);
    },
  };
  Object.defineProperty(window, 'ethereum', { value: provider, configurable: false, writable: false });
};

function rpcError(code, message, data) {
  return { __error: { code, message, data } };
}

/** Typed-data values as JSON carries them (numbers as strings) → what viem signs (bigints). */
function typed(types, type, value) {
  const array = type.match(/^(.*)\[(\d*)\]$/);
  if (array) return value.map((v) => typed(types, array[1], v));
  if (types[type]) return Object.fromEntries(types[type].map((f) => [f.name, typed(types, f.type, value[f.name])]));
  if (/^u?int\d*$/.test(type)) return BigInt(value);
  return value;
}

export class TestWallet {
  constructor(rpcUrl, chainId) {
    this.rpcUrl = rpcUrl;
    this.chain = defineChain({
      id: chainId,
      name: `test chain ${chainId}`,
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [rpcUrl] } },
    });
    this.pages = new Set();
    this.sent = [];
    this.account = null;
  }

  /** Signs as `privateKey` from now on; pages see `accountsChanged`. */
  async use(privateKey) {
    this.account = privateKeyToAccount(privateKey);
    this.client = createWalletClient({ account: this.account, chain: this.chain, transport: http(this.rpcUrl) });
    for (const p of this.pages) {
      if (!p.isClosed()) await p.evaluate((a) => window.ethereum?.__emit('accountsChanged', [a]), this.account.address).catch(() => {});
    }
    return this.account.address;
  }

  async install(context) {
    await context.exposeBinding('__imoTestWallet', async (source, method, params) => {
      this.pages.add(source.page);
      try {
        return await this.handle(method, params);
      } catch (e) {
        return rpcError(e.code ?? -32603, e.shortMessage ?? e.message ?? String(e), e.data);
      }
    });
    await context.addInitScript(PAGE_SHIM);
  }

  async rpc(method, params = []) {
    const res = await fetch(this.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    const body = await res.json();
    if (body.error) return rpcError(body.error.code, body.error.message, body.error.data);
    return body.result;
  }

  checkFrom(address) {
    if (address && getAddress(address) !== this.account.address) {
      throw Object.assign(new Error(`this wallet holds ${this.account.address}, not ${address}`), { code: 4100 });
    }
  }

  async handle(method, params) {
    if (!this.account) throw Object.assign(new Error('no account'), { code: 4100 });
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [this.account.address];
      case 'wallet_switchEthereumChain': {
        const want = Number(BigInt(params[0]?.chainId));
        if (want !== this.chain.id) throw Object.assign(new Error(`unknown chain ${want}`), { code: 4902 });
        return null;
      }
      case 'personal_sign': {
        const [data, address] = params;
        this.checkFrom(address);
        return this.account.signMessage({ message: { raw: data } });
      }
      case 'eth_signTypedData_v4': {
        const [address, json] = params;
        this.checkFrom(address);
        const t = typeof json === 'string' ? JSON.parse(json) : json;
        const { EIP712Domain, ...types } = t.types;
        const domain = { ...t.domain };
        if (domain.chainId !== undefined) domain.chainId = Number(domain.chainId);
        return this.account.signTypedData({ domain, types, primaryType: t.primaryType, message: typed(types, t.primaryType, t.message) });
      }
      case 'eth_sendTransaction': {
        const [tx] = params;
        this.checkFrom(tx.from);
        const hash = await this.client.sendTransaction({
          to: tx.to ?? undefined,
          data: tx.data ?? tx.input ?? undefined,
          value: tx.value ? BigInt(tx.value) : undefined,
          gas: tx.gas ? BigInt(tx.gas) : undefined,
        });
        this.sent.push({ from: this.account.address, to: tx.to, data: tx.data ?? tx.input ?? '0x', hash });
        return hash;
      }
      case 'eth_sign':
      case 'eth_signTransaction':
        throw Object.assign(new Error(`${method} is not supported`), { code: 4200 });
      default:
        return this.rpc(method, params);
    }
  }
}
