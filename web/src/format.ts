import { formatEther, formatUnits } from 'viem';

/** Wei (decimal string or bigint) as ETH with up to `digits` decimals, trailing zeros cut. */
export function eth(wei: string | bigint, digits = 6): string {
  const v = typeof wei === 'bigint' ? wei : BigInt(wei);
  const s = formatEther(v);
  return `${trim(s, digits)} ETH`;
}

/** Token base units (18 decimals) as whole tokens. */
export function tokens(units: string | bigint, digits = 4): string {
  const v = typeof units === 'bigint' ? units : BigInt(units);
  return trim(formatUnits(v, 18), digits);
}

function trim(s: string, digits: number): string {
  const [i = '0', f = ''] = s.split('.');
  const int = i.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const all = f.replace(/0+$/, '');
  // Cut to `digits` decimals, unless that would show a non-zero amount as 0.
  const cut = all.slice(0, digits).replace(/0+$/, '');
  const frac = cut || (i.replace(/^-/, '') === '0' ? all : '');
  return frac ? `${int}.${frac}` : int;
}

/** 0x1234…abcd */
export function short(hex: string, keep = 6): string {
  if (hex.length <= 2 + keep * 2) return hex;
  return `${hex.slice(0, 2 + keep)}…${hex.slice(-keep)}`;
}

export function time(ms: number): string {
  return new Date(ms).toLocaleString();
}

export function timeShort(ms: number): string {
  return new Date(ms).toLocaleTimeString();
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
