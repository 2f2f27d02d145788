// Checks a receipt in the browser: its EIP-712 signature (docs/CONTRACTS.md, "EIP-712
// receipt") and its leaf and Merkle path in the epoch's receipt tree ("Receipt tree (exact
// encoding)"), computed here from the receipt itself, then compared with what the chain says.
// Pure functions; no network.

import {
  type Address,
  type Hex,
  concat,
  encodeAbiParameters,
  getAddress,
  hashStruct,
  hashTypedData,
  keccak256,
  recoverTypedDataAddress,
  sha256,
} from 'viem';

import type { Receipt } from './types';

export const receiptTypes = {
  Receipt: [
    { name: 'id', type: 'uint128' },
    { name: 'epoch', type: 'uint64' },
    { name: 'model', type: 'bytes32' },
    { name: 'client', type: 'address' },
    { name: 'price', type: 'uint256' },
    { name: 'inputHash', type: 'bytes32' },
    { name: 'outputHash', type: 'bytes32' },
    { name: 'fingerprint', type: 'bytes32' },
    { name: 'timestamp', type: 'uint64' },
  ],
} as const;

/** The `Receipt` struct as signed and as the contract takes it. */
export interface ReceiptStruct {
  id: bigint;
  epoch: bigint;
  model: Hex;
  client: Address;
  price: bigint;
  inputHash: Hex;
  outputHash: Hex;
  fingerprint: Hex;
  timestamp: bigint;
}

export interface Domain {
  name: string;
  version: string;
  chainId: number;
  verifyingContract: Address;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID (26 Crockford base-32 characters) as the 128-bit integer that is signed as `id`. */
export function ulidToBigInt(id: string): bigint {
  if (!/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i.test(id)) throw new Error(`not a ULID: ${id}`);
  let v = 0n;
  for (const c of id.toUpperCase()) v = (v << 5n) | BigInt(CROCKFORD.indexOf(c));
  return v;
}

/** A 32-byte value written with or without `0x`. */
export function bytes32(s: string): Hex {
  const hex = s.startsWith('0x') || s.startsWith('0X') ? s.slice(2) : s;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`not a 32-byte hex value: ${s}`);
  return `0x${hex.toLowerCase()}`;
}

export function receiptStruct(r: Receipt): ReceiptStruct {
  return {
    id: ulidToBigInt(r.id),
    epoch: BigInt(r.epoch),
    model: bytes32(r.weights_root),
    client: getAddress(r.client),
    price: BigInt(r.price_wei),
    inputHash: bytes32(r.input_hash),
    outputHash: bytes32(r.output_hash),
    fingerprint: bytes32(r.fingerprint_hash),
    timestamp: BigInt(r.timestamp_ms),
  };
}

/** EIP-712 `hashStruct(receipt)` (the contract's `receiptHash`). */
export function receiptHash(s: ReceiptStruct): Hex {
  return hashStruct({ data: { ...s }, primaryType: 'Receipt', types: receiptTypes });
}

/** What the operator signs (the contract's `receiptDigest`). */
export function receiptDigest(s: ReceiptStruct, domain: Domain): Hex {
  return hashTypedData({ domain, types: receiptTypes, primaryType: 'Receipt', message: { ...s } });
}

export async function receiptSigner(s: ReceiptStruct, signature: Hex, domain: Domain): Promise<Address> {
  return recoverTypedDataAddress({ domain, types: receiptTypes, primaryType: 'Receipt', message: { ...s }, signature });
}

/** `keccak256(keccak256(abi.encode(receiptHash, modelPrev, modelCum, clientPrev, clientCum)))`. */
export function leafHash(receiptHashValue: Hex, modelPrev: bigint, modelCum: bigint, clientPrev: bigint, clientCum: bigint): Hex {
  const encoded = encodeAbiParameters(
    [{ type: 'bytes32' }, { type: 'uint64' }, { type: 'uint256' }, { type: 'uint64' }, { type: 'uint256' }],
    [receiptHashValue, modelPrev, modelCum, clientPrev, clientCum],
  );
  return keccak256(keccak256(encoded));
}

/** Folds a positional Merkle path: at level k the node is the left child iff bit k of `index` is 0. */
export function computeRoot(leaf: Hex, index: bigint, proof: Hex[]): Hex {
  let node = leaf;
  let i = index;
  for (const sibling of proof) {
    node = (i & 1n) === 0n ? keccak256(concat([node, sibling])) : keccak256(concat([sibling, node]));
    i >>= 1n;
  }
  return node;
}

/** The root of `leaves` padded with zero hashes to a power of two (for tests and vectors). */
export function rootOf(leaves: Hex[]): Hex {
  if (leaves.length === 0) throw new Error('no leaves');
  let size = 1;
  while (size < leaves.length) size *= 2;
  let level: Hex[] = [...leaves];
  while (level.length < size) level.push(`0x${'00'.repeat(32)}`);
  while (level.length > 1) {
    const next: Hex[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(keccak256(concat([level[i] as Hex, level[i + 1] as Hex])));
    level = next;
  }
  return level[0] as Hex;
}

/** Where a receipt stands, from its epoch's state (undefined: the epoch is still open). */
export type ProofStatus = 'pending' | 'attested' | 'finalized';

export function proofStatus(epochState: string | undefined): ProofStatus {
  switch (epochState) {
    case 'attested':
    case 'finalizing':
      return 'attested';
    case 'finalized':
      return 'finalized';
    default:
      return 'pending';
  }
}

// ---- Weights commitment (docs/WEIGHTS.md, sections 4 and 5) ----

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

function i32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n, false);
  return b;
}

function i64be(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(n), false);
  return b;
}

function hexBytes(s: string): Uint8Array {
  const hex = s.startsWith('0x') ? s.slice(2) : s;
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`not hex: ${s}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function join(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function sha(bytes: Uint8Array): Uint8Array {
  return hexBytes(sha256(bytes));
}

/** A weight tensor's leaf: SHA-256(0x00 ‖ u32 len ‖ name ‖ i32 type ‖ u32 ndims ‖ i64 dims… ‖ data_sha256). */
export function weightLeaf(name: string, dataType: number, dims: number[], dataSha256: string): Hex {
  const nameBytes = new TextEncoder().encode(name);
  const digest = hexBytes(dataSha256);
  if (digest.length !== 32) throw new Error('data_sha256 is not 32 bytes');
  return sha256(
    join([new Uint8Array([0]), u32be(nameBytes.length), nameBytes, i32be(dataType), u32be(dims.length), ...dims.map(i64be), digest]),
  );
}

/** RFC 9162 §2.1.3.2: does `path` prove `leaf` at `index` of a tree of `size` leaves under `root`? */
export function verifyInclusion(leaf: string, index: number, size: number, path: string[], root: string): boolean {
  if (index >= size) return false;
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r = hexBytes(leaf);
  for (const p of path) {
    if (sn === 0n) return false;
    const pb = hexBytes(p);
    if ((fn & 1n) === 1n || fn === sn) {
      r = sha(join([new Uint8Array([1]), pb, r]));
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = sha(join([new Uint8Array([1]), r, pb]));
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  const want = hexBytes(root);
  return sn === 0n && r.length === want.length && r.every((b, i) => b === want[i]);
}

/** RFC 6962 Merkle Tree Hash over leaf hashes (for tests). */
export function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha(new Uint8Array());
  if (leaves.length === 1) return leaves[0] as Uint8Array;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(join([new Uint8Array([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k))]));
}
