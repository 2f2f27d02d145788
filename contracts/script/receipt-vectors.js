// Independent (JS, js-sha3) recomputation of the receipt-tree test vectors asserted in
// test/UsageOracle.t.sol:test_encoding_vectors and listed in docs/CONTRACTS.md. Run: node contracts/script/receipt-vectors.js
const { keccak256 } = require(require('path').join(__dirname, '..', '..', '.tools', 'npm', 'node_modules', 'js-sha3'));
const h = (hex) => keccak256(Buffer.from(hex, 'hex'));
const w = (n) => BigInt(n).toString(16).padStart(64, '0');
const th = keccak256("Receipt(uint128 id,uint64 epoch,bytes32 model,address client,uint256 price,bytes32 inputHash,bytes32 outputHash,bytes32 fingerprint,uint64 timestamp)");
const rh = h(th + w('0x0190000000000000000000000000002a') + w(3) + w(0xaa) + w('0x1111111111111111111111111111111111111111') + w(10n**15n) + w(1) + w(2) + w(3) + w(1700000000000));
const inner = h(rh + w(0) + w(10n**15n) + w(0) + w(10n**15n));
const leaf = h(inner);
const b = keccak256("b"), c = keccak256("c"), z = '0'.repeat(64);
const root = h(h(leaf + b) + h(c + z));
console.log({th, rh, leaf, root});
