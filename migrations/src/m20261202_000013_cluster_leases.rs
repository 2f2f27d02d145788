use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `cluster_leases`: leases among the replicas sharing a database (issue 17; docs/DEPLOY.md):
/// one row per lease name (`chain`: who runs the chain jobs). `holder` is the replica that
/// holds it until `expires_at_ms` (database time, Unix ms); `token` is the fencing token, raised
/// each time the lease changes hands or lapses, and checked by every write that must come from
/// the current holder.
#[derive(DeriveIden)]
enum ClusterLeases {
    Table,
    Name,
    Holder,
    Token,
    ExpiresAtMs,
    AcquiredAtMs,
}

#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ClusterLeases::Table)
                .col(string_len(ClusterLeases::Name, 64).primary_key())
                .col(string_len(ClusterLeases::Holder, 200))
                .col(big_integer(ClusterLeases::Token))
                .col(big_integer(ClusterLeases::ExpiresAtMs))
                .col(big_integer(ClusterLeases::AcquiredAtMs))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ClusterLeases::Table).to_owned())
            .await
    }
}
