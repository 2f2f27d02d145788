//! `make bench` (second part): building an epoch's receipt tree and serving proofs, against the
//! least any implementation must do in the same run: one EIP-712 struct hash per receipt plus
//! the double keccak of its leaf (baseline). Reports medians of alternating trials and the ratio.

use std::time::{Duration, Instant};

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    sol_types::SolStruct,
};
use imo_oracle::{chain::tree::ReceiptTree, receipts::Receipt};

const TRIALS: usize = 5;

/// Deterministic pseudo-random numbers (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// `n` receipts of one epoch over 10 models and 100 clients, ids unique, in random order.
fn receipts(n: usize) -> Vec<Receipt> {
    let mut rng = Rng(42);
    let mut ids = std::collections::BTreeSet::new();
    while ids.len() < n {
        ids.insert((u128::from(rng.next()) << 64) | u128::from(rng.next()));
    }
    let mut out: Vec<Receipt> = ids
        .into_iter()
        .map(|id| Receipt {
            id,
            epoch: 7,
            model: B256::from(U256::from(rng.next() % 10 + 1)),
            client: Address::from_word(B256::from(U256::from(rng.next() % 100 + 1))),
            price: U256::from(rng.next() % 1_000_000 + 1),
            inputHash: B256::from(U256::from(rng.next())),
            outputHash: B256::from(U256::from(rng.next())),
            fingerprint: B256::repeat_byte(3),
            timestamp: 1_700_000_000_000,
        })
        .collect();
    for i in (1..out.len()).rev() {
        out.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    for n in [1_000usize, 100_000] {
        let rs = receipts(n);
        let (mut base, mut build, mut proofs) = (vec![], vec![], vec![]);
        let mut depth = 0;
        for _ in 0..TRIALS {
            // (a) baseline: hash every receipt and its leaf once, nothing else.
            let t = Instant::now();
            let mut acc = B256::ZERO;
            for r in &rs {
                let h = r.eip712_hash_struct();
                acc ^= keccak256(keccak256([h.as_slice(), &[0u8; 128]].concat()));
            }
            std::hint::black_box(acc);
            base.push(t.elapsed());
            // (b) the tree: sort, annotate, hash every level, totals.
            let t = Instant::now();
            let tree = ReceiptTree::build(rs.clone()).expect("valid receipts");
            build.push(t.elapsed());
            depth = tree.depth();
            // (c) a proof of every leaf.
            let t = Instant::now();
            for i in 0..tree.len() {
                std::hint::black_box(tree.proof(i));
            }
            proofs.push(t.elapsed());
        }
        let (a, b, c) = (median(base), median(build), median(proofs));
        println!(
            "receipt tree, {n} receipts (depth {depth}): baseline hashing {a:?}, build {b:?} \
             (ratio build/baseline {:.2}), all {n} proofs {c:?} ({:.2} µs each)",
            b.as_secs_f64() / a.as_secs_f64(),
            c.as_secs_f64() * 1e6 / n as f64
        );
    }
}
