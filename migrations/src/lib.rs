//! sea-orm migrations for imo-oracle. One migration per file; the same schema on SQLite and
//! PostgreSQL (amounts of wei are decimal text, times are i64 Unix milliseconds).

pub use sea_orm_migration::prelude::*;

mod tables;

mod m20261122_000001_create_models;
mod m20261122_000002_create_model_tensors;
mod m20261122_000003_create_api_keys;
mod m20261122_000004_create_siwe_nonces;
mod m20261122_000005_create_balances;
mod m20261122_000006_create_receipts;
mod m20261122_000007_create_credits;
mod m20261122_000008_create_deployments;
mod m20261122_000009_create_tx_intents;
mod m20261122_000010_create_chain_state;
mod m20261201_000011_nonce_address;
mod m20261201_000012_chain_states;
mod m20261202_000013_acknowledgements;
mod m20261202_000013_cluster_leases;
mod m20261202_000013_create_disputes;
mod m20261202_000020_model_disputability;
mod m20261202_000021_balance_leases;

pub struct Migrator;

#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_models::Migration),
            Box::new(m20261122_000002_create_model_tensors::Migration),
            Box::new(m20261122_000003_create_api_keys::Migration),
            Box::new(m20261122_000004_create_siwe_nonces::Migration),
            Box::new(m20261122_000005_create_balances::Migration),
            Box::new(m20261122_000006_create_receipts::Migration),
            Box::new(m20261122_000007_create_credits::Migration),
            Box::new(m20261122_000008_create_deployments::Migration),
            Box::new(m20261122_000009_create_tx_intents::Migration),
            Box::new(m20261122_000010_create_chain_state::Migration),
            Box::new(m20261201_000011_nonce_address::Migration),
            Box::new(m20261201_000012_chain_states::Migration),
            Box::new(m20261202_000020_model_disputability::Migration),
            Box::new(m20261202_000013_create_disputes::Migration),
            Box::new(m20261202_000013_cluster_leases::Migration),
            Box::new(m20261202_000013_acknowledgements::Migration),
            Box::new(m20261202_000021_balance_leases::Migration),
        ]
    }
}
