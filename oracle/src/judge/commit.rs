//! Commitments of the dispute game (docs/PROTOCOL.md §9.3), all keccak-256 so that the EVM
//! checks them cheaply:
//!
//! * **data root** of a tensor: its canonical little-endian bytes cut into 32-byte chunks (the
//!   last one zero-padded; an empty tensor is one zero chunk), `leaf = keccak256(chunk)`, over a
//!   positional binary tree of depth `⌈log2 chunks⌉` whose missing leaves are zero chunks;
//!   `node = keccak256(left ‖ right)`;
//! * **shape word**: `dtype << 248 | rank << 240 | dims[i] << (208 − 32·i)` (rank ≤ 6, dims < 2^32);
//! * **tensor commitment** `T = keccak256(shapeWord ‖ dataRoot)`;
//! * **state root** after `k` nodes: a positional tree of depth `⌈log2 slots⌉` over the value
//!   slots (inputs, weights, node outputs), each leaf the slot's `T` or zero while empty;
//! * **nodes root**: a positional tree over `keccak256(node encoding)`, zero-padded.
//!
//! Proofs are sibling lists bottom-up ([`MerkleTree::proof`]) or positional multiproofs for a
//! set of leaves ([`MerkleTree::multiproof`], verified by [`verify_multiproof`] exactly as
//! `ChunkTree.sol` does).

use alloy::primitives::{B256, keccak256};

use super::value::{JType, MAX_RANK};

/// Bytes per data chunk.
pub const CHUNK: usize = 32;

/// `⌈log2 n⌉` (0 for n ≤ 1).
pub fn depth_for(n: usize) -> usize {
    let mut d = 0;
    while (1usize << d) < n {
        d += 1;
    }
    d
}

/// `keccak256(left ‖ right)`.
pub fn hash_pair(left: &B256, right: &B256) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(left.as_slice());
    buf[32..].copy_from_slice(right.as_slice());
    keccak256(buf)
}

/// A positional binary Merkle tree, all levels kept (level 0 = leaves, padded to a power of two).
#[derive(Debug, Clone)]
pub struct MerkleTree {
    levels: Vec<Vec<B256>>,
}

impl MerkleTree {
    /// A tree over `leaves`, padded with `pad` up to `2^⌈log2 n⌉` leaves (at least one).
    pub fn new(mut leaves: Vec<B256>, pad: B256) -> Self {
        let depth = depth_for(leaves.len());
        leaves.resize(1 << depth, pad);
        let mut levels = vec![leaves];
        while levels.last().expect("a level").len() > 1 {
            let prev = levels.last().expect("a level");
            let next = prev
                .chunks_exact(2)
                .map(|p| hash_pair(&p[0], &p[1]))
                .collect();
            levels.push(next);
        }
        Self { levels }
    }

    pub fn root(&self) -> B256 {
        self.levels.last().expect("a level")[0]
    }

    pub fn depth(&self) -> usize {
        self.levels.len() - 1
    }

    /// The node at `level` (0 = leaves) and position `index`.
    pub fn node(&self, level: usize, index: usize) -> B256 {
        self.levels[level][index]
    }

    /// Replaces leaf `index` and updates the path to the root.
    pub fn set(&mut self, index: usize, leaf: B256) {
        let mut i = index;
        self.levels[0][i] = leaf;
        for l in 1..self.levels.len() {
            i /= 2;
            let h = hash_pair(&self.levels[l - 1][2 * i], &self.levels[l - 1][2 * i + 1]);
            self.levels[l][i] = h;
        }
    }

    /// The siblings of leaf `index`, bottom-up.
    pub fn proof(&self, index: usize) -> Vec<B256> {
        let mut i = index;
        (0..self.depth())
            .map(|l| {
                let s = self.levels[l][i ^ 1];
                i /= 2;
                s
            })
            .collect()
    }

    /// The positional multiproof of the leaves at `indices` (sorted, unique): the sibling
    /// hashes [`verify_multiproof`] consumes, in its order (level by level, left to right).
    pub fn multiproof(&self, indices: &[usize]) -> Vec<B256> {
        let mut out = Vec::new();
        let mut cur: Vec<usize> = indices.to_vec();
        for l in 0..self.depth() {
            let mut next = Vec::with_capacity(cur.len());
            let mut i = 0;
            while i < cur.len() {
                let x = cur[i];
                if x.is_multiple_of(2) && i + 1 < cur.len() && cur[i + 1] == x + 1 {
                    i += 2;
                } else {
                    out.push(self.levels[l][x ^ 1]);
                    i += 1;
                }
                next.push(x / 2);
            }
            cur = next;
        }
        out
    }
}

/// Root from a leaf, its index and its siblings bottom-up.
pub fn compute_root(leaf: B256, index: usize, proof: &[B256]) -> B256 {
    let mut h = leaf;
    let mut i = index;
    for s in proof {
        h = if i.is_multiple_of(2) {
            hash_pair(&h, s)
        } else {
            hash_pair(s, &h)
        };
        i /= 2;
    }
    h
}

/// Root of a tree of depth `depth` from the leaves at `indices` (sorted, unique, < 2^depth)
/// and the multiproof; `None` if the proof is malformed. `ChunkTree.verifyMultiproof` mirrors it.
pub fn verify_multiproof(
    depth: usize,
    indices: &[usize],
    leaves: &[B256],
    proof: &[B256],
) -> Option<B256> {
    if indices.is_empty() || indices.len() != leaves.len() {
        return None;
    }
    if indices.windows(2).any(|w| w[0] >= w[1]) || *indices.last()? >= 1usize << depth {
        return None;
    }
    let mut cur: Vec<(usize, B256)> = indices
        .iter()
        .copied()
        .zip(leaves.iter().copied())
        .collect();
    let mut p = 0;
    for _ in 0..depth {
        let mut next = Vec::with_capacity(cur.len());
        let mut i = 0;
        while i < cur.len() {
            let (x, h) = cur[i];
            let parent = if x.is_multiple_of(2) && i + 1 < cur.len() && cur[i + 1].0 == x + 1 {
                i += 2;
                hash_pair(&h, &cur[i - 1].1)
            } else {
                let s = *proof.get(p)?;
                p += 1;
                i += 1;
                if x.is_multiple_of(2) {
                    hash_pair(&h, &s)
                } else {
                    hash_pair(&s, &h)
                }
            };
            next.push((x / 2, parent));
        }
        cur = next;
    }
    (p == proof.len()).then(|| cur[0].1)
}

/// Number of chunks of `byte_len` bytes of data (at least one).
pub fn chunk_count(byte_len: usize) -> usize {
    byte_len.div_ceil(CHUNK).max(1)
}

/// Chunk `i` of `data`, zero-padded.
pub fn chunk(data: &[u8], i: usize) -> [u8; CHUNK] {
    let mut c = [0u8; CHUNK];
    let start = (i * CHUNK).min(data.len());
    let end = ((i + 1) * CHUNK).min(data.len());
    c[..end - start].copy_from_slice(&data[start..end]);
    c
}

/// The chunk tree of a tensor's canonical bytes.
pub fn chunk_tree(data: &[u8]) -> MerkleTree {
    let n = chunk_count(data.len());
    let leaves = (0..n).map(|i| keccak256(chunk(data, i))).collect();
    MerkleTree::new(leaves, keccak256([0u8; CHUNK]))
}

/// The data root of a tensor's canonical bytes.
pub fn data_root(data: &[u8]) -> B256 {
    chunk_tree(data).root()
}

/// The shape word of a tensor (`None` when the rank exceeds 6 or a dimension 2^32 − 1).
pub fn shape_word(dtype: JType, shape: &[usize]) -> Option<B256> {
    if shape.len() > MAX_RANK || shape.iter().any(|&d| d > u32::MAX as usize) {
        return None;
    }
    let mut w = [0u8; 32];
    w[0] = dtype.code();
    w[1] = shape.len() as u8;
    for (i, &d) in shape.iter().enumerate() {
        w[2 + 4 * i..6 + 4 * i].copy_from_slice(&(d as u32).to_be_bytes());
    }
    Some(B256::from(w))
}

/// Element type and shape back from a shape word (`None` if malformed).
pub fn parse_shape_word(w: &B256) -> Option<(JType, Vec<usize>)> {
    let dtype = JType::from_code(w[0])?;
    let rank = w[1] as usize;
    if rank > MAX_RANK || w[2 + 4 * rank..].iter().any(|&b| b != 0) {
        return None;
    }
    let shape = (0..rank)
        .map(|i| u32::from_be_bytes(w[2 + 4 * i..6 + 4 * i].try_into().expect("4 bytes")) as usize)
        .collect();
    Some((dtype, shape))
}

/// `T = keccak256(shapeWord ‖ dataRoot)`.
pub fn tensor_commitment(shape_word: &B256, data_root: &B256) -> B256 {
    hash_pair(shape_word, data_root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiproof_round_trips_and_rejects_tampering() {
        let leaves: Vec<B256> = (0..13u8).map(|i| keccak256([i])).collect();
        let t = MerkleTree::new(leaves.clone(), B256::ZERO);
        for set in [
            vec![0],
            vec![12],
            vec![3, 4],
            vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
            vec![1, 6, 7, 11],
        ] {
            let hashes: Vec<B256> = set.iter().map(|&i| t.node(0, i)).collect();
            let proof = t.multiproof(&set);
            assert_eq!(
                verify_multiproof(t.depth(), &set, &hashes, &proof),
                Some(t.root())
            );
            let mut bad = hashes.clone();
            bad[0] = B256::ZERO;
            assert_ne!(
                verify_multiproof(t.depth(), &set, &bad, &proof),
                Some(t.root())
            );
            if !proof.is_empty() {
                assert_eq!(
                    verify_multiproof(t.depth(), &set, &hashes, &proof[1..]),
                    None
                );
            }
        }
        for (i, leaf) in leaves.iter().enumerate() {
            assert_eq!(compute_root(*leaf, i, &t.proof(i)), t.root());
        }
    }

    #[test]
    fn set_updates_the_root() {
        let mut t = MerkleTree::new(vec![B256::ZERO; 5], B256::ZERO);
        t.set(3, B256::repeat_byte(7));
        let mut leaves = vec![B256::ZERO; 5];
        leaves[3] = B256::repeat_byte(7);
        assert_eq!(t.root(), MerkleTree::new(leaves, B256::ZERO).root());
    }

    #[test]
    fn chunk_tree_pads_with_zero_chunks() {
        assert_eq!(data_root(&[]), keccak256([0u8; 32]));
        assert_eq!(data_root(&[0u8; 32]), keccak256([0u8; 32]));
        let d: Vec<u8> = (0..40).collect();
        let l0 = keccak256(chunk(&d, 0));
        let l1 = keccak256(chunk(&d, 1));
        assert_eq!(data_root(&d), hash_pair(&l0, &l1));
        let d3: Vec<u8> = (0..70).collect();
        let z = keccak256([0u8; 32]);
        assert_eq!(
            data_root(&d3),
            hash_pair(
                &hash_pair(&keccak256(chunk(&d3, 0)), &keccak256(chunk(&d3, 1))),
                &hash_pair(&keccak256(chunk(&d3, 2)), &z)
            )
        );
    }

    #[test]
    fn shape_words_round_trip() {
        let w = shape_word(JType::U8, &[1, 8, 4, 4]).unwrap();
        assert_eq!(
            hex::encode(w),
            "0204000000010000000800000004000000040000000000000000000000000000"
        );
        assert_eq!(parse_shape_word(&w), Some((JType::U8, vec![1, 8, 4, 4])));
        assert!(shape_word(JType::F32, &[1; 7]).is_none());
        let scalar = shape_word(JType::F32, &[]).unwrap();
        assert_eq!(parse_shape_word(&scalar), Some((JType::F32, vec![])));
    }
}
