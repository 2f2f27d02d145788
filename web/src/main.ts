// The dashboard: a hash-routed single-page app (#/, #/publisher, #/holder, #/client,
// #/models/{id}) over the service's JSON API and the user's injected wallet. Live updates by
// polling cheap endpoints while the tab is visible (docs/ARCHITECTURE.md, "The dashboard").

import './style.css';

import { ApiError, get, onSession, session, setSession } from './api';
import { h, replace } from './dom';
import { short } from './format';
import type { Contracts } from './types';
import { Poller, errorText } from './ui';
import { client } from './views/client';
import { holder } from './views/holder';
import { home } from './views/home';
import { modelPage } from './views/model';
import { publisher } from './views/publisher';
import type { View } from './views/view';
import { connect, disconnect, injected, message, onWallet, restore, setExpectedChain, wallet } from './wallet';

let contracts: Contracts | null = null;
let current: { view: View; poller: Poller | null } | null = null;

function notice(text: string | null, kind: 'error' | 'info' = 'info'): void {
  const el = document.getElementById('notice');
  if (!el) return;
  if (!text) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  el.hidden = false;
  el.className = `notice ${kind}`;
  el.textContent = text;
}

function route(): { name: string; arg?: string } {
  const hash = location.hash.replace(/^#\/?/, '');
  const [name = '', arg] = hash.split('/');
  if (name === 'models' && arg) return { name: 'model', arg: decodeURIComponent(arg) };
  if (['publisher', 'holder', 'client'].includes(name)) return { name };
  return { name: 'home' };
}

function render(): void {
  if (current) {
    current.poller?.stop();
    current.view.dispose();
  }
  const r = route();
  const view =
    r.name === 'publisher'
      ? publisher(contracts)
      : r.name === 'holder'
        ? holder(contracts)
        : r.name === 'client'
          ? client(contracts)
          : r.name === 'model'
            ? modelPage(r.arg ?? '', contracts)
            : home(contracts);
  const main = document.getElementById('main')!;
  replace(main, view.el);
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a[data-route]')) {
    if (a.dataset.route === r.name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const title = view.el.querySelector('h1')?.textContent ?? 'Dashboard';
  document.title = `${title} · imo-oracle`;
  let failures = 0;
  const poller = new Poller(
    view.pollMs || 60_000,
    async () => {
      await view.refresh();
      if (failures > 0) notice(null);
      failures = 0;
    },
    (e) => {
      failures += 1;
      // A 401 signed the session out, which re-renders the views.
      if (e instanceof ApiError && e.status === 401) return;
      notice(`Could not refresh: ${errorText(e)}. Retrying.`, 'error');
    },
  );
  current = { view, poller };
  void poller.run();
  if (view.pollMs === 0) poller.stop();
}

function identity(): void {
  const el = document.getElementById('identity');
  if (!el) return;
  const s = session();
  const w = wallet();
  const parts: (HTMLElement | string)[] = [];
  if (s) {
    const out = h('button', { type: 'button', class: 'secondary small' }, 'Sign out');
    out.addEventListener('click', () => setSession(null));
    parts.push(h('span', { class: 'who', 'data-session': s.role }, `${s.role} ${short(s.address, 4)}`), out);
  }
  if (w) {
    const wrong = contracts && w.chainId !== contracts.chain_id;
    const off = h('button', { type: 'button', class: 'secondary small' }, 'Disconnect');
    off.addEventListener('click', () => disconnect());
    parts.push(
      h(
        'span',
        { class: `who${wrong ? ' error-text' : ''}`, 'data-wallet': w.address },
        `wallet ${short(w.address, 4)}${wrong ? ` on chain ${w.chainId}, not ${contracts?.chain_id}` : ''}`,
      ),
      off,
    );
  } else if (injected()) {
    const b = h('button', { type: 'button', class: 'small' }, 'Connect wallet');
    b.addEventListener('click', async () => {
      try {
        await connect();
      } catch (e) {
        notice(message(e), 'error');
      }
    });
    parts.push(b);
  }
  replace(el, ...parts);
}

async function start(): Promise<void> {
  try {
    contracts = await get<Contracts>('/v1/contracts');
    setExpectedChain(contracts.chain_id);
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 'chain_disabled')) notice(`Could not read the contracts: ${errorText(e)}`, 'error');
    contracts = null;
  }
  await restore();
  identity();
  onSession(() => {
    identity();
    render();
  });
  onWallet(() => {
    identity();
    render();
  });
  // The skip link must not change the hash: the hash is the route.
  document.querySelector('.skip-link')?.addEventListener('click', (ev) => {
    ev.preventDefault();
    document.getElementById('main')?.focus();
  });
  window.addEventListener('hashchange', () => {
    render();
    document.getElementById('main')?.focus();
  });
  render();
}

void start();
