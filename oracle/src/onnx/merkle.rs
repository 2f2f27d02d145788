//! RFC 6962 / RFC 9162 Merkle tree hash, audit paths and their verification over leaf hashes
//! that already carry the 0x00 leaf prefix (see [`super::leaf_hash`]).

use sha2::{Digest, Sha256};

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// RFC 6962 §2.1 Merkle Tree Hash over already-hashed leaves: the empty tree is SHA-256(""),
/// a single leaf is its own root, otherwise SHA-256(0x01 || MTH(left) || MTH(right)) with the
/// split at the largest power of two smaller than the leaf count.
pub fn merkle_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node(&merkle_root(&leaves[..k]), &merkle_root(&leaves[k..]))
        }
    }
}

/// RFC 6962 §2.1.1 audit path for the leaf at `index`, ordered from the leaf's sibling up to
/// the root's child. Returns an empty path when `index` is out of range (as it does, validly,
/// for a one-leaf tree): [`verify_inclusion`] rejects out-of-range indices.
pub fn inclusion_proof(leaves: &[[u8; 32]], index: usize) -> Vec<[u8; 32]> {
    fn path(leaves: &[[u8; 32]], m: usize, out: &mut Vec<[u8; 32]>) {
        let n = leaves.len();
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            path(&leaves[..k], m, out);
            out.push(merkle_root(&leaves[k..]));
        } else {
            path(&leaves[k..], m - k, out);
            out.push(merkle_root(&leaves[..k]));
        }
    }
    let mut out = Vec::new();
    if index < leaves.len() {
        path(leaves, index, &mut out);
    }
    out
}

/// RFC 9162 §2.1.3.2: checks that `leaf` is the leaf at `index` of a tree of `count` leaves
/// whose root is `root`, given the audit path `proof`.
pub fn verify_inclusion(
    leaf: [u8; 32],
    index: usize,
    count: usize,
    proof: &[[u8; 32]],
    root: [u8; 32],
) -> bool {
    if index >= count {
        return false;
    }
    let (mut fnode, mut snode) = (index, count - 1);
    let mut r = leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == root
}
