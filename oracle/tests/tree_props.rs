//! Property tests of the epoch receipt tree: for any set of receipts, every proof verifies
//! against the root, the running sums are exact (checked arithmetic: a sum past 2^256 is an
//! error), and duplicated ids are refused.

use alloy::primitives::{Address, B256, U256};
use imo_oracle::{
    chain::tree::{ReceiptTree, compute_root},
    receipts::Receipt,
};
use proptest::prelude::*;

fn receipt(id: u128, model: u8, client: u8, price: U256) -> Receipt {
    Receipt {
        id,
        epoch: 9,
        model: B256::repeat_byte(model),
        client: Address::repeat_byte(client),
        price,
        inputHash: B256::repeat_byte(1),
        outputHash: B256::repeat_byte(2),
        fingerprint: B256::repeat_byte(3),
        timestamp: 1_700_000_000_000,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn proofs_verify_and_sums_are_exact(
        rs in proptest::collection::btree_map(any::<u128>(), (0u8..4, 0u8..5, any::<u64>()), 1..200)
    ) {
        let receipts: Vec<Receipt> = rs.iter().map(|(id, (m, c, p))| receipt(*id, *m, *c, U256::from(*p))).collect();
        let tree = ReceiptTree::build(receipts.clone()).unwrap();
        prop_assert_eq!(tree.len(), receipts.len());
        for i in [0, tree.len() / 2, tree.len() - 1] {
            prop_assert_eq!(compute_root(tree.leaf_hash_at(i), i as u64, &tree.proof(i)), tree.root());
        }
        let total: U256 = receipts.iter().map(|r| r.price).sum();
        prop_assert_eq!(tree.total(), total);
        let by_models: U256 = tree.models().iter().map(|m| m.total).sum();
        let by_clients: U256 = tree.clients().iter().map(|c| c.total).sum();
        prop_assert_eq!(by_models, total);
        prop_assert_eq!(by_clients, total);
    }

    #[test]
    fn overflowing_sums_and_duplicate_ids_are_errors(id in any::<u128>()) {
        let max = receipt(id, 1, 1, U256::MAX);
        let one = receipt(id.wrapping_add(1), 1, 1, U256::from(1));
        prop_assert!(ReceiptTree::build(vec![max.clone(), one]).is_err());
        prop_assert!(ReceiptTree::build(vec![max.clone(), max]).is_err());
    }
}
