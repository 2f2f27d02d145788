// Unit tests of the dashboard's pure code (no browser): the receipt and weights verification
// against the vectors of docs/CONTRACTS.md and independent implementations written here, and
// the amount formatting. src/*.ts is bundled in memory by esbuild and imported. Run with
// `npm run test:unit` (make test-web).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';
import { concat, keccak256, toHex } from 'viem';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');

async function load(entry) {
  const r = await esbuild.build({
    absWorkingDir: web,
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'node',
    write: false,
    logLevel: 'error',
  });
  return import(`data:text/javascript;base64,${Buffer.from(r.outputFiles[0].contents).toString('base64')}`);
}

const v = await load('src/verify.ts');
const f = await load('src/format.ts');

// docs/CONTRACTS.md, "Test vectors" (test_encoding_vectors).
const vector = {
  id: 0x0190000000000000000000000000002an,
  epoch: 3n,
  model: `0x${'00'.repeat(31)}aa`,
  client: '0x1111111111111111111111111111111111111111',
  price: 10n ** 15n,
  inputHash: `0x${'00'.repeat(31)}01`,
  outputHash: `0x${'00'.repeat(31)}02`,
  fingerprint: `0x${'00'.repeat(31)}03`,
  timestamp: 1700000000000n,
};

test('a ULID is the 128-bit integer that is signed', () => {
  assert.equal(v.ulidToBigInt('01J0000000000000000000001A'), 0x0190000000000000000000000000002an);
  assert.equal(v.ulidToBigInt('7ZZZZZZZZZZZZZZZZZZZZZZZZZ'), (1n << 128n) - 1n);
  assert.equal(v.ulidToBigInt('01j0000000000000000000001a'), 0x0190000000000000000000000000002an, 'case-insensitive');
  for (const bad of ['', '8ZZZZZZZZZZZZZZZZZZZZZZZZZ', '01J000000000000000000001U', '01J0000000000000000000001AA']) {
    assert.throws(() => v.ulidToBigInt(bad), /not a ULID/, bad);
  }
});

test('receipt hash, leaf and root match the contract test vectors', () => {
  const rh = v.receiptHash(vector);
  assert.equal(rh, '0xfdb726e7d872359101a969fcf0036bc775ecce094bb97e7f95a9dc4c65b18b23');
  const leaf = v.leafHash(rh, 0n, 10n ** 15n, 0n, 10n ** 15n);
  assert.equal(leaf, '0x78c77c853533ff28918beb0e5b753ffca0227c01c1762782895f6fa479def04f');
  const leaves = [leaf, keccak256(toHex('b')), keccak256(toHex('c'))];
  const root = v.rootOf(leaves);
  assert.equal(root, '0x6b0cfdeef0b869ea17600ac2f86116681939108371d56b1cdb4728811a479a2e');
  // Every leaf's positional path leads to that root, and only at its own index.
  const zero = `0x${'00'.repeat(32)}`;
  const level1 = [keccak256(concat([leaves[0], leaves[1]])), keccak256(concat([leaves[2], zero]))];
  const proofs = [
    [leaves[1], level1[1]],
    [leaves[0], level1[1]],
    [zero, level1[0]],
  ];
  proofs.forEach((p, i) => {
    assert.equal(v.computeRoot(leaves[i], BigInt(i), p), root, `leaf ${i}`);
    assert.notEqual(v.computeRoot(leaves[i], BigInt((i + 1) % 3), p), root, `leaf ${i} at another index`);
  });
});

test('the EIP-712 digest and signer of a receipt', async () => {
  const { privateKeyToAccount } = await import('viem/accounts');
  const { receiptTypes } = v;
  const operator = privateKeyToAccount(`0x${'11'.repeat(32)}`);
  const domain = { name: 'IMO Oracle', version: '1', chainId: 31337, verifyingContract: '0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0' };
  const signature = await operator.signTypedData({ domain, types: receiptTypes, primaryType: 'Receipt', message: vector });
  assert.equal(await v.receiptSigner(vector, signature, domain), operator.address);
  // Another chain or contract: another signer.
  assert.notEqual(await v.receiptSigner(vector, signature, { ...domain, chainId: 1 }), operator.address);
  assert.notEqual(await v.receiptSigner({ ...vector, price: vector.price + 1n }, signature, domain), operator.address);
  // The record the API returns becomes the same struct.
  const s = v.receiptStruct({
    id: '01J0000000000000000000001A',
    epoch: 3,
    model_id: 'mdl_x',
    model_name: 'x',
    weights_root: '00'.repeat(31) + 'aa',
    client: vector.client,
    price_wei: '1000000000000000',
    input_hash: vector.inputHash,
    output_hash: vector.outputHash,
    fingerprint: 'ort …',
    fingerprint_hash: vector.fingerprint,
    timestamp_ms: 1700000000000,
    signature,
  });
  assert.equal(v.receiptHash(s), v.receiptHash(vector));
  assert.throws(() => v.bytes32('0x1234'), /not a 32-byte hex value/);
});

// ---- weights: an independent RFC 6962 implementation (audit paths) ----
const sha = (...parts) => createHash('sha256').update(Buffer.concat(parts)).digest();
function mth(leaves) {
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
function path(m, leaves) {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m < k ? [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))] : [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}
const hex = (b) => `0x${Buffer.from(b).toString('hex')}`;

test('a weight leaf is the documented encoding', () => {
  const data = createHash('sha256').update('weights').digest('hex');
  const name = '@/5.then_branch/init[0]/W';
  const expected = sha(
    Buffer.from([0]),
    Buffer.from([0, 0, 0, Buffer.byteLength(name)]),
    Buffer.from(name),
    Buffer.from([0, 0, 0, 1]),
    Buffer.from([0, 0, 0, 2]),
    Buffer.from([0, 0, 0, 0, 0, 0, 0, 3]),
    Buffer.from([0, 0, 0, 0, 0, 0, 0, 4]),
    Buffer.from(data, 'hex'),
  );
  assert.equal(v.weightLeaf(name, 1, [3, 4], data), hex(expected));
  assert.notEqual(v.weightLeaf(name, 1, [4, 3], data), hex(expected));
  assert.notEqual(v.weightLeaf(name, 11, [3, 4], data), hex(expected));
});

test('inclusion proofs verify (RFC 9162) for every leaf of trees of 1 to 33 leaves, and nothing else does', () => {
  for (let n = 1; n <= 33; n++) {
    const leaves = Array.from({ length: n }, () => randomBytes(32));
    const root = mth(leaves);
    assert.equal(hex(v.mth(leaves.map((l) => new Uint8Array(l)))), hex(root), `root of ${n}`);
    for (let m = 0; m < n; m++) {
      const p = path(m, leaves).map(hex);
      assert.ok(v.verifyInclusion(hex(leaves[m]), m, n, p, hex(root)), `leaf ${m} of ${n}`);
      if (n > 1) {
        assert.ok(!v.verifyInclusion(hex(leaves[m]), (m + 1) % n, n, p, hex(root)), `leaf ${m} of ${n} at another index`);
        assert.ok(!v.verifyInclusion(hex(leaves[(m + 1) % n]), m, n, p, hex(root)), `another leaf at ${m} of ${n}`);
      }
      // (The leaf count is not bound by the path: it must come from where the root comes from,
      // docs/WEIGHTS.md section 5 — the page takes it from the tensor listing.)
      assert.ok(!v.verifyInclusion(hex(leaves[m]), m, n, [...p, hex(randomBytes(32))], hex(root)), 'a path too long');
      assert.ok(!v.verifyInclusion(hex(leaves[m]), n, n, p, hex(root)), 'index out of range');
    }
  }
});

test('amounts are shown exactly enough', () => {
  assert.equal(f.eth(10n ** 18n), '1 ETH');
  assert.equal(f.eth(0n), '0 ETH');
  assert.equal(f.eth('1234567000000000000000'), '1,234.567 ETH');
  assert.equal(f.eth(1n), '0.000000000000000001 ETH', 'a tiny amount is never shown as 0');
  assert.equal(f.eth(1_000_000_000_001n), '0.000001 ETH');
  assert.equal(f.tokens(300000n * 10n ** 18n), '300,000');
  assert.equal(f.short('0x1234567890abcdef1234567890abcdef12345678'), '0x123456…345678');
});

test('proof status from the epoch state', () => {
  assert.equal(v.proofStatus(undefined), 'pending');
  assert.equal(v.proofStatus('closed'), 'pending');
  assert.equal(v.proofStatus('attesting'), 'pending');
  assert.equal(v.proofStatus('voided'), 'pending');
  assert.equal(v.proofStatus('attested'), 'attested');
  assert.equal(v.proofStatus('finalizing'), 'attested');
  assert.equal(v.proofStatus('finalized'), 'finalized');
});
