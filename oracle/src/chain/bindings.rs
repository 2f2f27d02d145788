//! alloy bindings generated from the committed forge artifacts (`contracts/artifacts/*.json`:
//! ABI + creation bytecode), so the Rust side deploys and calls exactly what `forge test` tested.
//! `make test` checks that the artifacts match the sources (`contracts/export-artifacts.sh --check`).

#![allow(clippy::too_many_arguments, missing_docs)]

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    ModelRegistry,
    "../contracts/artifacts/ModelRegistry.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    ModelToken,
    "../contracts/artifacts/ModelToken.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    PaymentVault,
    "../contracts/artifacts/PaymentVault.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    UsageOracle,
    "../contracts/artifacts/UsageOracle.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    AckReferee,
    "../contracts/artifacts/AckReferee.json"
);
