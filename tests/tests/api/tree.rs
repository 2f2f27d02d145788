//! The Rust receipt tree (`imo_oracle::chain::tree`) against the deployed UsageOracle's own pure
//! functions on a real anvil: `receiptHash`, `leafHash`, `treeDepth` and `computeRoot` agree with
//! the EIP-712 struct hash, `leaf_hash`, `tree_depth` and every proof of trees of several sizes.

use alloy::{
    primitives::{Address as EthAddress, B256, U256},
    signers::local::PrivateKeySigner,
    sol_types::SolStruct,
};
use imo_oracle::{
    chain::{
        Chain,
        bindings::UsageOracle,
        tree::{LeafData, ReceiptTree, compute_root, leaf_hash, tree_depth},
    },
    config::ChainConfig,
    receipts::Receipt,
};

use imo_e2e::Rng;

use crate::helpers::*;

/// `n` receipts of epoch 11 over 3 models and 4 clients, in no particular id order.
fn receipts(n: usize, rng: &mut Rng) -> Vec<Receipt> {
    let models: Vec<B256> = (0..3).map(|_| B256::from(rng.bytes32())).collect();
    let clients: Vec<EthAddress> = (0..4)
        .map(|_| EthAddress::from_slice(&B256::from(rng.bytes32())[..20]))
        .collect();
    (0..n)
        .map(|_| Receipt {
            // ULID-like: a millisecond timestamp in the top 48 bits, randomness below.
            id: (u128::from(1_700_000_000_000 + rng.next() % 1_000_000) << 80)
                | u128::from(rng.next()),
            epoch: 11,
            model: models[(rng.next() % 3) as usize],
            client: clients[(rng.next() % 4) as usize],
            price: U256::from(rng.next() % 10u64.pow(15) + 1),
            inputHash: B256::from(rng.bytes32()),
            outputHash: B256::from(rng.bytes32()),
            fingerprint: B256::from(rng.bytes32()),
            timestamp: 1_700_000_000_000 + rng.next() % 1_000_000,
        })
        .collect()
}

fn on_chain_leaf(l: &LeafData) -> UsageOracle::Leaf {
    UsageOracle::Leaf {
        receipt: imo_oracle::chain::epochs::sol_receipt(&l.receipt),
        modelPrev: l.model_prev,
        modelCum: l.model_cum,
        clientPrev: l.client_prev,
        clientCum: l.client_cum,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_matches_the_on_chain_verifier() {
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("deployer.key");
    std::fs::write(&key_file, format!("{ANVIL_KEY_0}\n")).unwrap();
    let cfg = ChainConfig {
        rpc_url: anvil.url.clone(),
        chain_id: CHAIN_ID,
        deployer_key_file: Some(key_file),
        ..ChainConfig::default()
    };
    let operator = OPERATOR_KEY.parse::<PrivateKeySigner>().unwrap().address();
    let chain = Chain::connect(&cfg).await.expect("connects");
    let d = chain
        .deploy(imo_oracle::types::Address(operator), 0)
        .await
        .expect("deploys");
    let p = anvil.provider();
    let oracle = UsageOracle::new(d.oracle.0, &p);

    for count in [
        0u64,
        1,
        2,
        3,
        4,
        5,
        8,
        9,
        13,
        1 << 20,
        (1 << 20) + 1,
        u64::MAX,
    ] {
        assert_eq!(
            oracle.treeDepth(count).call().await.unwrap(),
            U256::from(tree_depth(count)),
            "treeDepth({count})"
        );
    }

    let mut rng = Rng(0x1ee7);
    for n in [1usize, 2, 3, 5, 8, 13] {
        let tree = ReceiptTree::build(receipts(n, &mut rng)).expect("builds");
        assert_eq!(tree.len(), n);
        assert_eq!(
            oracle.treeDepth(n as u64).call().await.unwrap(),
            U256::from(tree.depth()),
            "n = {n}"
        );
        for i in 0..n {
            let leaf = tree.leaf(i);
            assert_eq!(
                oracle
                    .receiptHash(imo_oracle::chain::epochs::sol_receipt(&leaf.receipt))
                    .call()
                    .await
                    .unwrap(),
                leaf.receipt.eip712_hash_struct(),
                "receiptHash, n = {n}, leaf {i}"
            );
            let h = oracle.leafHash(on_chain_leaf(leaf)).call().await.unwrap();
            assert_eq!(h, leaf_hash(leaf), "leafHash, n = {n}, leaf {i}");
            assert_eq!(h, tree.leaf_hash_at(i));
            let proof = tree.proof(i);
            assert_eq!(proof.len() as u32, tree.depth());
            let root = oracle
                .computeRoot(h, i as u64, proof.clone())
                .call()
                .await
                .unwrap();
            assert_eq!(root, tree.root(), "computeRoot, n = {n}, leaf {i}");
            assert_eq!(compute_root(h, i as u64, &proof), root);
            if n > 1 {
                let wrong = oracle
                    .computeRoot(h, ((i + 1) % n) as u64, proof)
                    .call()
                    .await
                    .unwrap();
                assert_ne!(wrong, tree.root(), "wrong index, n = {n}, leaf {i}");
            }
        }
    }
}
