//! The epoch receipt tree, exactly as `UsageOracle` verifies it (docs/CONTRACTS.md, "Receipt tree
//! (exact encoding)"; `leafHash`, `treeDepth`, `computeRoot`, `_verifyLeaf` in
//! contracts/src/UsageOracle.sol).
//!
//! Leaves are the epoch's receipts sorted by `id` (strictly ascending), each annotated with the
//! running sums per model and per client:
//!
//! ```text
//! leaf_i = keccak256(keccak256(abi.encode(receiptHash(r_i), modelPrev, modelCum, clientPrev, clientCum)))
//! ```
//!
//! The tree is positional: `depth = ceil(log2 n)` (0 for one leaf), level 0 is the leaves padded
//! with `bytes32(0)` to `2^depth` entries, `node = keccak256(left || right)`. The padding is not
//! stored: a node whose subtree holds only padding is the "zero hash" of its level
//! (`Z_0 = 0`, `Z_{k+1} = keccak256(Z_k || Z_k)`), which is what hashing the padded level gives.

use std::{collections::HashMap, sync::OnceLock};

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    sol_types::SolStruct,
};
use serde::{Deserialize, Serialize};

use crate::{
    error::{OracleError, Result},
    receipts::Receipt,
};

/// One leaf: a receipt plus its running-sum annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafData {
    pub receipt: Receipt,
    /// 1 + the index of the previous leaf with the same model, or 0 if none.
    pub model_prev: u64,
    /// Sum of `price` over the leaves up to and including this one with the same model.
    pub model_cum: U256,
    /// 1 + the index of the previous leaf with the same client, or 0 if none.
    pub client_prev: u64,
    /// Sum of `price` over the leaves up to and including this one with the same client.
    pub client_cum: U256,
}

/// Attested revenue of one model in the epoch (`ModelTotal` in contracts/src/Types.sol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelTotal {
    pub model: B256,
    pub total: U256,
    /// 1 + the index of the model's last leaf.
    pub last: u64,
}

/// Attested spend of one client in the epoch (`ClientTotal` in contracts/src/Types.sol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientTotal {
    pub client: Address,
    pub total: U256,
    /// 1 + the index of the client's last leaf.
    pub last: u64,
}

/// An epoch's receipt tree: the annotated leaves, every level of hashes, and the totals lists.
#[derive(Debug, Clone)]
pub struct ReceiptTree {
    epoch: u64,
    leaves: Vec<LeafData>,
    /// `levels[0]` are the leaf hashes (unpadded), `levels[depth]` is `[root]`.
    levels: Vec<Vec<B256>>,
    /// `zeros[k]`: the hash of an all-padding subtree at level `k` (`zeros[0] = 0`).
    zeros: Vec<B256>,
    models: Vec<ModelTotal>,
    clients: Vec<ClientTotal>,
    total: U256,
}

fn invalid(msg: impl Into<String>) -> OracleError {
    OracleError::InvalidInput(msg.into())
}

/// Running sums of one side (model or client): key → (1 + index of its last leaf, sum so far).
fn running<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, (u64, U256)>,
    key: K,
    index: usize,
    price: U256,
    what: &str,
) -> Result<(u64, U256)> {
    let entry = map.entry(key).or_insert((0, U256::ZERO));
    let prev = entry.0;
    let cum = entry
        .1
        .checked_add(price)
        .ok_or_else(|| invalid(format!("the {what} total overflows uint256")))?;
    *entry = (index as u64 + 1, cum);
    Ok((prev, cum))
}

impl ReceiptTree {
    /// Builds the tree of one epoch's receipts, given in any order: sorts them by id ascending.
    /// Errors on an empty list, duplicate ids, receipts of different epochs, or totals that
    /// overflow uint256.
    pub fn build(mut receipts: Vec<Receipt>) -> Result<Self> {
        let Some(first) = receipts.first() else {
            return Err(invalid("a receipt tree needs at least one receipt"));
        };
        let epoch = first.epoch;
        if let Some(r) = receipts.iter().find(|r| r.epoch != epoch) {
            return Err(invalid(format!(
                "receipts of different epochs in one tree: {epoch} and {}",
                r.epoch
            )));
        }
        receipts.sort_unstable_by_key(|r| r.id);
        if let Some(w) = receipts.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(invalid(format!("duplicate receipt id {:#034x}", w[0].id)));
        }

        let mut by_model: HashMap<B256, (u64, U256)> = HashMap::new();
        let mut by_client: HashMap<Address, (u64, U256)> = HashMap::new();
        let mut total = U256::ZERO;
        let mut leaves = Vec::with_capacity(receipts.len());
        for (i, receipt) in receipts.into_iter().enumerate() {
            let (model_prev, model_cum) =
                running(&mut by_model, receipt.model, i, receipt.price, "model")?;
            let (client_prev, client_cum) =
                running(&mut by_client, receipt.client, i, receipt.price, "client")?;
            total = total
                .checked_add(receipt.price)
                .ok_or_else(|| invalid("the epoch total overflows uint256"))?;
            leaves.push(LeafData {
                receipt,
                model_prev,
                model_cum,
                client_prev,
                client_cum,
            });
        }

        let mut models: Vec<ModelTotal> = by_model
            .into_iter()
            .map(|(model, (last, total))| ModelTotal { model, total, last })
            .collect();
        models.sort_unstable_by_key(|m| m.model);
        let mut clients: Vec<ClientTotal> = by_client
            .into_iter()
            .map(|(client, (last, total))| ClientTotal {
                client,
                total,
                last,
            })
            .collect();
        clients.sort_unstable_by_key(|c| c.client);

        let (levels, zeros) = build_levels(hash_leaves(&leaves));
        Ok(Self {
            epoch,
            leaves,
            levels,
            zeros,
            models,
            clients,
            total,
        })
    }

    /// The epoch all receipts belong to.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The number of leaves (receipts); at least 1.
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    /// Always false: a tree has at least one leaf.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// The Merkle root attested on-chain.
    pub fn root(&self) -> B256 {
        self.levels[self.levels.len() - 1][0]
    }

    /// `ceil(log2 len)`, the length of every proof.
    pub fn depth(&self) -> u32 {
        (self.levels.len() - 1) as u32
    }

    /// Leaf `index` (in id order). Panics if `index >= len()`.
    pub fn leaf(&self, index: usize) -> &LeafData {
        &self.leaves[index]
    }

    /// All leaves, in id order.
    pub fn leaves(&self) -> &[LeafData] {
        &self.leaves
    }

    /// The hash of leaf `index` (`leafHash` on-chain). Panics if `index >= len()`.
    pub fn leaf_hash_at(&self, index: usize) -> B256 {
        self.levels[0][index]
    }

    /// The index of the receipt with this id, if it is in the tree.
    pub fn index_of(&self, id: u128) -> Option<usize> {
        self.leaves.binary_search_by_key(&id, |l| l.receipt.id).ok()
    }

    /// The sibling hashes of leaf `index`, bottom-up (`depth()` of them), as `computeRoot`
    /// takes them. Panics if `index >= len()`.
    pub fn proof(&self, index: usize) -> Vec<B256> {
        assert!(
            index < self.len(),
            "leaf index {index} out of range (len {})",
            self.len()
        );
        let depth = self.levels.len() - 1;
        let mut out = Vec::with_capacity(depth);
        let mut i = index;
        for k in 0..depth {
            out.push(self.levels[k].get(i ^ 1).copied().unwrap_or(self.zeros[k]));
            i >>= 1;
        }
        out
    }

    /// Per-model totals, sorted by model (bytes32 order), one entry per model.
    pub fn models(&self) -> &[ModelTotal] {
        &self.models
    }

    /// Per-client totals, sorted by client (uint160 order), one entry per client.
    pub fn clients(&self) -> &[ClientTotal] {
        &self.clients
    }

    /// The sum of all prices (= Σ model totals = Σ client totals).
    pub fn total(&self) -> U256 {
        self.total
    }
}

/// Below this many hashes a level is hashed on the calling thread (spawning costs more).
const PARALLEL_FROM: usize = 8192;

/// `out[i] = f(i)` for every `i`, on up to 8 threads when `out` is large (hashing is all of the
/// work of a build: the leaves, then every level above them).
fn par_fill(out: &mut [B256], f: impl Fn(usize) -> B256 + Sync) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads < 2 || out.len() < PARALLEL_FROM {
        for (i, h) in out.iter_mut().enumerate() {
            *h = f(i);
        }
        return;
    }
    let chunk = out.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        for (c, dst) in out.chunks_mut(chunk).enumerate() {
            scope.spawn(move || {
                for (j, h) in dst.iter_mut().enumerate() {
                    *h = f(c * chunk + j);
                }
            });
        }
    });
}

/// The leaf hashes.
fn hash_leaves(leaves: &[LeafData]) -> Vec<B256> {
    let mut out = vec![B256::ZERO; leaves.len()];
    par_fill(&mut out, |i| leaf_hash(&leaves[i]));
    out
}

/// `keccak256(left || right)`.
#[inline]
fn hash_pair(left: &B256, right: &B256) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(left.as_slice());
    buf[32..].copy_from_slice(right.as_slice());
    keccak256(buf)
}

/// Every level of the positional tree over `leaves` (unpadded; see the module docs) and the
/// zero hash of each level below the root.
fn build_levels(leaves: Vec<B256>) -> (Vec<Vec<B256>>, Vec<B256>) {
    let depth = tree_depth(leaves.len() as u64) as usize;
    let mut levels = Vec::with_capacity(depth + 1);
    let mut zeros = Vec::with_capacity(depth);
    let mut zero = B256::ZERO;
    levels.push(leaves);
    for _ in 0..depth {
        let below = &levels[levels.len() - 1];
        let mut next = vec![B256::ZERO; below.len().div_ceil(2)];
        par_fill(&mut next, |i| {
            hash_pair(&below[2 * i], below.get(2 * i + 1).unwrap_or(&zero))
        });
        zeros.push(zero);
        zero = hash_pair(&zero, &zero);
        levels.push(next);
    }
    (levels, zeros)
}

/// `receiptHash`: the receipt's EIP-712 struct hash, `keccak256(abi.encode(RECEIPT_TYPEHASH, r))`.
/// Equals `receipt.eip712_hash_struct()`, which re-hashes the type string on every call (most of
/// the cost of a leaf); this hashes it once and encodes the nine static fields on the stack.
pub fn receipt_hash(r: &Receipt) -> B256 {
    static TYPEHASH: OnceLock<B256> = OnceLock::new();
    let typehash = TYPEHASH.get_or_init(|| r.eip712_type_hash());
    let mut buf = [0u8; 320];
    let words: [[u8; 32]; 10] = [
        typehash.0,
        U256::from(r.id).to_be_bytes(),
        U256::from(r.epoch).to_be_bytes(),
        r.model.0,
        r.client.into_word().0,
        r.price.to_be_bytes(),
        r.inputHash.0,
        r.outputHash.0,
        r.fingerprint.0,
        U256::from(r.timestamp).to_be_bytes(),
    ];
    for (chunk, word) in buf.chunks_exact_mut(32).zip(words.iter()) {
        chunk.copy_from_slice(word);
    }
    keccak256(buf)
}

/// `leafHash`: `keccak256(keccak256(abi.encode(receiptHash, modelPrev, modelCum, clientPrev,
/// clientCum)))`, where `receiptHash` is the receipt's EIP-712 struct hash.
pub fn leaf_hash(leaf: &LeafData) -> B256 {
    let mut buf = [0u8; 160];
    buf[..32].copy_from_slice(receipt_hash(&leaf.receipt).as_slice());
    buf[32..64].copy_from_slice(&U256::from(leaf.model_prev).to_be_bytes::<32>());
    buf[64..96].copy_from_slice(&leaf.model_cum.to_be_bytes::<32>());
    buf[96..128].copy_from_slice(&U256::from(leaf.client_prev).to_be_bytes::<32>());
    buf[128..].copy_from_slice(&leaf.client_cum.to_be_bytes::<32>());
    keccak256(keccak256(buf))
}

/// `modelsChainHash(models, rest)`: the hash chain over a models list that batched `finalize`
/// checks: from `rest`, backwards, `h = keccak256(abi.encode(model, total, last, h))`. The
/// whole list's hash (rest = 0) is what `attest` records; a batch passes the hash of the
/// models after it as `rest`.
pub fn models_chain_hash(models: &[ModelTotal], rest: B256) -> B256 {
    let mut h = rest;
    for m in models.iter().rev() {
        let mut buf = [0u8; 128];
        buf[..32].copy_from_slice(m.model.as_slice());
        buf[32..64].copy_from_slice(&m.total.to_be_bytes::<32>());
        buf[64..96].copy_from_slice(&U256::from(m.last).to_be_bytes::<32>());
        buf[96..].copy_from_slice(h.as_slice());
        h = keccak256(buf);
    }
    h
}

/// `treeDepth`: `ceil(log2 count)`; 0 for 0 or 1 leaves.
pub fn tree_depth(count: u64) -> u32 {
    if count <= 1 {
        0
    } else {
        64 - (count - 1).leading_zeros()
    }
}

/// `computeRoot`: folds the siblings (bottom-up) into `leaf`; at level `k` the current node is
/// the left child iff bit `k` of `index` is 0.
pub fn compute_root(leaf: B256, index: u64, proof: &[B256]) -> B256 {
    let mut h = leaf;
    let mut idx = index;
    for sibling in proof {
        h = if idx & 1 == 0 {
            hash_pair(&h, sibling)
        } else {
            hash_pair(sibling, &h)
        };
        idx >>= 1;
    }
    h
}

#[cfg(test)]
mod tests {
    use alloy::{primitives::address, sol_types::SolValue};

    use super::*;
    use crate::splitmix::SplitMix64;

    /// The root of the positional tree over these leaf hashes (padded with zero); `B256::ZERO` for
    /// none.
    fn root_of_leaf_hashes(leaves: &[B256]) -> B256 {
        if leaves.is_empty() {
            return B256::ZERO;
        }
        let (levels, _) = build_levels(leaves.to_vec());
        levels[levels.len() - 1][0]
    }

    fn b(hex: &str) -> B256 {
        hex.parse().unwrap()
    }

    fn word(n: u64) -> B256 {
        B256::from(U256::from(n))
    }

    fn receipt(id: u128, epoch: u64, model: B256, client: Address, price: u64) -> Receipt {
        Receipt {
            id,
            epoch,
            model,
            client,
            price: U256::from(price),
            inputHash: word((id as u64).wrapping_mul(3).wrapping_add(1)),
            outputHash: word((id as u64).wrapping_mul(3).wrapping_add(2)),
            fingerprint: word(7),
            timestamp: 1_700_000_000_000 + (id as u64 % 1_000_000),
        }
    }

    fn random_receipts(n: usize, seed: u64) -> Vec<Receipt> {
        let mut rng = SplitMix64(seed);
        let models = [word(0xaa), word(0x01), B256::repeat_byte(0xff)];
        let clients = [
            address!("0x1111111111111111111111111111111111111111"),
            address!("0x00000000000000000000000000000000000000ff"),
            address!("0xf000000000000000000000000000000000000000"),
            address!("0x2222222222222222222222222222222222222222"),
        ];
        let mut ids = std::collections::BTreeSet::new();
        while ids.len() < n {
            ids.insert((u128::from(rng.next()) << 64) | u128::from(rng.next()));
        }
        ids.into_iter()
            .map(|id| {
                let m = models[(rng.next() % 3) as usize];
                let c = clients[(rng.next() % 4) as usize];
                receipt(id, 9, m, c, rng.next() % 1_000_000 + 1)
            })
            .collect()
    }

    /// The root as docs/CONTRACTS.md defines it: pad level 0 with zeros to 2^depth, hash pairs.
    fn naive_root(leaves: &[B256]) -> B256 {
        let depth = tree_depth(leaves.len() as u64);
        let mut level = leaves.to_vec();
        level.resize(1 << depth, B256::ZERO);
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|p| keccak256([p[0].as_slice(), p[1].as_slice()].concat()))
                .collect();
        }
        level[0]
    }

    #[test]
    fn test_vectors_of_the_contracts_doc() {
        let r = Receipt {
            id: 0x0190000000000000000000000000002a,
            epoch: 3,
            model: word(0xaa),
            client: address!("0x1111111111111111111111111111111111111111"),
            price: U256::from(10u64.pow(15)),
            inputHash: word(1),
            outputHash: word(2),
            fingerprint: word(3),
            timestamp: 1_700_000_000_000,
        };
        let expected_receipt =
            b("0xfdb726e7d872359101a969fcf0036bc775ecce094bb97e7f95a9dc4c65b18b23");
        assert_eq!(r.eip712_hash_struct(), expected_receipt);
        assert_eq!(receipt_hash(&r), expected_receipt);
        let leaf = LeafData {
            receipt: r.clone(),
            model_prev: 0,
            model_cum: U256::from(10u64.pow(15)),
            client_prev: 0,
            client_cum: U256::from(10u64.pow(15)),
        };
        let expected_leaf = b("0x78c77c853533ff28918beb0e5b753ffca0227c01c1762782895f6fa479def04f");
        assert_eq!(leaf_hash(&leaf), expected_leaf);
        // The same with alloy's ABI encoder.
        let encoded = (
            r.eip712_hash_struct(),
            leaf.model_prev,
            leaf.model_cum,
            leaf.client_prev,
            leaf.client_cum,
        )
            .abi_encode();
        assert_eq!(encoded.len(), 160);
        assert_eq!(keccak256(keccak256(&encoded)), expected_leaf);

        let leaves = [expected_leaf, keccak256("b"), keccak256("c")];
        let expected_root = b("0x6b0cfdeef0b869ea17600ac2f86116681939108371d56b1cdb4728811a479a2e");
        assert_eq!(root_of_leaf_hashes(&leaves), expected_root);
        assert_eq!(naive_root(&leaves), expected_root);

        // A one-receipt tree is its leaf.
        let t = ReceiptTree::build(vec![r]).unwrap();
        assert_eq!(t.root(), expected_leaf);
        assert_eq!(t.depth(), 0);
        assert_eq!(t.proof(0), Vec::<B256>::new());
        assert_eq!(t.epoch(), 3);
    }

    #[test]
    fn tree_receipt_hash_is_the_eip712_struct_hash() {
        for r in random_receipts(50, 5) {
            assert_eq!(receipt_hash(&r), r.eip712_hash_struct());
        }
        let max = Receipt {
            id: u128::MAX,
            epoch: u64::MAX,
            model: B256::repeat_byte(0xff),
            client: Address::repeat_byte(0xff),
            price: U256::MAX,
            inputHash: B256::repeat_byte(0xfe),
            outputHash: B256::repeat_byte(0xfd),
            fingerprint: B256::repeat_byte(0xfc),
            timestamp: u64::MAX,
        };
        assert_eq!(receipt_hash(&max), max.eip712_hash_struct());
    }

    #[test]
    fn tree_depth_matches_the_contract() {
        for (n, d) in [
            (0, 0),
            (1, 0),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 3),
            (8, 3),
            (9, 4),
            (1 << 20, 20),
            ((1 << 20) + 1, 21),
            (u64::MAX, 64),
        ] {
            assert_eq!(tree_depth(n), d, "n = {n}");
        }
    }

    #[test]
    fn tree_annotations_and_totals() {
        let (ma, mb) = (word(0xbb), word(0xaa)); // mb < ma in bytes32 order
        let c1 = address!("0x3000000000000000000000000000000000000000");
        let c2 = address!("0x1000000000000000000000000000000000000000");
        let c3 = address!("0x2000000000000000000000000000000000000000");
        // In id order: (model, client, price)
        let rows = [
            (ma, c1, 10u64),
            (mb, c2, 20),
            (ma, c3, 30),
            (ma, c2, 40),
            (mb, c1, 50),
            (mb, c3, 60),
            (ma, c1, 70),
        ];
        let mut receipts: Vec<Receipt> = rows
            .iter()
            .enumerate()
            .map(|(i, &(m, c, p))| receipt(100 + i as u128, 5, m, c, p))
            .collect();
        receipts.reverse(); // input order does not matter
        let t = ReceiptTree::build(receipts).unwrap();
        assert_eq!(t.len(), 7);
        assert!(!t.is_empty());
        assert_eq!(t.epoch(), 5);
        assert_eq!(t.depth(), 3);
        let u = |n: u64| U256::from(n);
        // (model_prev, model_cum, client_prev, client_cum)
        let expected = [
            (0, 10, 0, 10),
            (0, 20, 0, 20),
            (1, 40, 0, 30),
            (3, 80, 2, 60),
            (2, 70, 1, 60),
            (5, 130, 3, 90),
            (4, 150, 5, 130),
        ];
        for (i, &(mp, mc, cp, cc)) in expected.iter().enumerate() {
            let l = t.leaf(i);
            assert_eq!(l.receipt.id, 100 + i as u128);
            assert_eq!(
                (l.model_prev, l.model_cum, l.client_prev, l.client_cum),
                (mp, u(mc), cp, u(cc)),
                "leaf {i}"
            );
            assert_eq!(t.leaf_hash_at(i), leaf_hash(l));
            assert_eq!(t.index_of(100 + i as u128), Some(i));
        }
        assert_eq!(t.leaves().len(), 7);
        assert_eq!(t.index_of(99), None);
        assert_eq!(t.index_of(107), None);
        assert_eq!(
            t.models(),
            [
                ModelTotal {
                    model: mb,
                    total: u(130),
                    last: 6
                },
                ModelTotal {
                    model: ma,
                    total: u(150),
                    last: 7
                },
            ]
        );
        assert_eq!(
            t.clients(),
            [
                ClientTotal {
                    client: c2,
                    total: u(60),
                    last: 4
                },
                ClientTotal {
                    client: c3,
                    total: u(90),
                    last: 6
                },
                ClientTotal {
                    client: c1,
                    total: u(130),
                    last: 7
                },
            ]
        );
        assert_eq!(t.total(), u(280));
        let leaves: Vec<B256> = (0..7).map(|i| t.leaf_hash_at(i)).collect();
        assert_eq!(t.root(), naive_root(&leaves));
    }

    #[test]
    fn tree_totals_sort_in_uint160_and_bytes32_order() {
        let t = ReceiptTree::build(random_receipts(200, 1)).unwrap();
        assert!(t.models().windows(2).all(|w| w[0].model < w[1].model));
        assert!(t.clients().windows(2).all(|w| {
            U256::from_be_slice(w[0].client.as_slice())
                < U256::from_be_slice(w[1].client.as_slice())
        }));
        let sum = |it: &mut dyn Iterator<Item = U256>| it.fold(U256::ZERO, |a, b| a + b);
        let prices = sum(&mut t.leaves().iter().map(|l| l.receipt.price));
        assert_eq!(t.total(), prices);
        assert_eq!(sum(&mut t.models().iter().map(|m| m.total)), prices);
        assert_eq!(sum(&mut t.clients().iter().map(|c| c.total)), prices);
        for m in t.models() {
            let last = t.leaf(m.last as usize - 1);
            assert_eq!((last.receipt.model, last.model_cum), (m.model, m.total));
        }
        for c in t.clients() {
            let last = t.leaf(c.last as usize - 1);
            assert_eq!((last.receipt.client, last.client_cum), (c.client, c.total));
        }
    }

    #[test]
    fn tree_proofs_verify() {
        for n in (1..=17).chain([1000]) {
            let t = ReceiptTree::build(random_receipts(n, n as u64)).unwrap();
            assert_eq!(t.len(), n);
            assert_eq!(t.depth(), tree_depth(n as u64));
            let leaves: Vec<B256> = (0..n).map(|i| t.leaf_hash_at(i)).collect();
            assert_eq!(t.root(), naive_root(&leaves), "n = {n}");
            assert_eq!(t.root(), root_of_leaf_hashes(&leaves), "n = {n}");
            for i in 0..n {
                let proof = t.proof(i);
                assert_eq!(proof.len() as u32, tree_depth(n as u64));
                let h = leaf_hash(t.leaf(i));
                assert_eq!(
                    compute_root(h, i as u64, &proof),
                    t.root(),
                    "n = {n}, i = {i}"
                );
                if n > 1 {
                    // Another index.
                    let j = (i + 1) % n;
                    assert_ne!(compute_root(h, j as u64, &proof), t.root(), "n {n} i {i}");
                    // A modified leaf.
                    let mut l = t.leaf(i).clone();
                    l.model_cum += U256::from(1);
                    assert_ne!(compute_root(leaf_hash(&l), i as u64, &proof), t.root());
                    let mut l = t.leaf(i).clone();
                    l.receipt.price += U256::from(1);
                    assert_ne!(compute_root(leaf_hash(&l), i as u64, &proof), t.root());
                    // A modified sibling.
                    let mut bad = proof.clone();
                    bad[0].0[31] ^= 1;
                    assert_ne!(compute_root(h, i as u64, &bad), t.root());
                }
            }
        }
    }

    #[test]
    fn tree_build_errors_and_input_order() {
        let e = ReceiptTree::build(vec![]).unwrap_err();
        assert!(matches!(e, OracleError::InvalidInput(_)), "{e:?}");

        let mut rs = random_receipts(10, 42);
        let dup = rs[3].clone();
        let mut with_dup = rs.clone();
        with_dup.push(Receipt {
            price: U256::from(1),
            ..dup
        });
        let e = ReceiptTree::build(with_dup).unwrap_err();
        assert!(
            matches!(&e, OracleError::InvalidInput(m) if m.contains("duplicate")),
            "{e:?}"
        );

        let mut mixed = rs.clone();
        mixed[7].epoch += 1;
        let e = ReceiptTree::build(mixed).unwrap_err();
        assert!(
            matches!(&e, OracleError::InvalidInput(m) if m.contains("epoch")),
            "{e:?}"
        );

        let overflow = vec![
            Receipt {
                price: U256::MAX,
                ..rs[0].clone()
            },
            Receipt {
                price: U256::from(1),
                ..rs[1].clone()
            },
        ];
        assert!(matches!(
            ReceiptTree::build(overflow),
            Err(OracleError::InvalidInput(_))
        ));

        let sorted = ReceiptTree::build(rs.clone()).unwrap();
        rs.reverse();
        let mut rng = SplitMix64(7);
        for i in (1..rs.len()).rev() {
            rs.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        let shuffled = ReceiptTree::build(rs).unwrap();
        assert_eq!(shuffled.root(), sorted.root());
        assert_eq!(shuffled.leaves(), sorted.leaves());
        assert_eq!(shuffled.models(), sorted.models());
        assert_eq!(shuffled.clients(), sorted.clients());
    }
}
