//! `make bench` (second part): building an epoch's receipt tree and serving proofs, against the
//! least any implementation must do, measured in the same run: the three keccaks of each leaf
//! on stack buffers on one thread (baseline), and the same leaves hashed through alloy's generic
//! EIP-712 struct hash. The tree hashes leaves on every core from 8192 leaves on, so on a
//! multi-core machine it can beat the one-thread baseline; the levels above the leaves are
//! hashed on every core too. Medians of alternating trials (3 at 1,000,000 receipts). The
//! results also go to `target/bench/summary.json` under `receipt_tree`.

use std::time::{Duration, Instant};

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    sol_types::SolStruct,
};
use imo_e2e::Rng;
use imo_oracle::{chain::tree::ReceiptTree, receipts::Receipt};

const TRIALS: usize = 5;

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
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut summary = serde_json::Map::new();
    for n in [1_000usize, 100_000, 1_000_000] {
        let rs = receipts(n);
        let (mut base, mut generic, mut build, mut proofs) = (vec![], vec![], vec![], vec![]);
        let mut depth = 0;
        let trials = if n >= 1_000_000 { 3 } else { TRIALS };
        for _ in 0..trials {
            // (a) baseline: hash every receipt and its leaf once, nothing else.
            let t = Instant::now();
            // The unavoidable keccak work per leaf: the 320-byte struct encoding, the 160-byte
            // leaf encoding and the outer hash, on stack buffers.
            let mut acc = B256::ZERO;
            let (mut st, mut leaf) = ([0u8; 320], [0u8; 160]);
            for r in &rs {
                st[16..32].copy_from_slice(&r.id.to_be_bytes());
                st[96..128].copy_from_slice(r.model.as_slice());
                leaf[..32].copy_from_slice(keccak256(st).as_slice());
                leaf[64..96].copy_from_slice(&r.price.to_be_bytes::<32>());
                acc ^= keccak256(keccak256(leaf));
            }
            std::hint::black_box(acc);
            base.push(t.elapsed());
            // (a') the same leaves through alloy's generic `eip712_hash_struct`.
            let t = Instant::now();
            let mut acc = B256::ZERO;
            for r in &rs {
                leaf[..32].copy_from_slice(r.eip712_hash_struct().as_slice());
                acc ^= keccak256(keccak256(leaf));
            }
            std::hint::black_box(acc);
            generic.push(t.elapsed());
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
        let (a, g, b, c) = (median(base), median(generic), median(build), median(proofs));
        println!(
            "receipt tree, {n} receipts (depth {depth}, {cores} cores): build {b:?} = {:.2}x the bare leaf keccaks \
             ({a:?}), {:.2}x leaves hashed with alloy's generic eip712_hash_struct ({g:?}); \
             all {n} proofs {c:?} ({:.3} µs each)",
            b.as_secs_f64() / a.as_secs_f64(),
            b.as_secs_f64() / g.as_secs_f64(),
            c.as_secs_f64() * 1e6 / n as f64
        );
        summary.insert(
            n.to_string(),
            serde_json::json!({
                "build_ms": b.as_secs_f64() * 1e3,
                "bare_leaf_keccaks_one_thread_ms": a.as_secs_f64() * 1e3,
                "proofs_all_ms": c.as_secs_f64() * 1e3,
                "cores": cores,
            }),
        );
        if n == 1_000_000 {
            println!(
                "receipt tree of 1,000,000 receipts: {:.3} s (aim ≤ 1 s: {})",
                b.as_secs_f64(),
                if b <= Duration::from_secs(1) {
                    "met"
                } else {
                    "NOT met"
                }
            );
        }
    }
    imo_e2e::bench_summary::merge("receipt_tree", serde_json::Value::Object(summary));
}
