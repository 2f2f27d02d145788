use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `balance_leases` (issue 17; docs/DEPLOY.md): in cluster mode every replica meters from a
/// slice of a client's balance that it leased in the database. One row per client and replica:
/// `member` is the replica's membership lease in `cluster_leases` (`member:<hash of the replica
/// id>`) and `token` its term; the row counts only while that term is live, so what a crashed
/// replica held comes back when its membership lapses. `amount_wei` is what is leased and not
/// yet charged; `recalled` is set by a replica that came up short while others hold leases
/// (their holders hand back what is not in flight).
#[derive(DeriveIden)]
enum BalanceLeases {
    Table,
    Address,
    Member,
    Token,
    AmountWei,
    Recalled,
    UpdatedAtMs,
}

/// The epoch each replica has sealed (every receipt of it and earlier committed, no more to
/// come), on its membership row: the leader closes an epoch only once every live replica sealed it.
#[derive(DeriveIden)]
enum ClusterLeases {
    Table,
    SealedEpoch,
}

#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(BalanceLeases::Table)
                .col(string_len(BalanceLeases::Address, 42))
                .col(string_len(BalanceLeases::Member, 64))
                .col(big_integer(BalanceLeases::Token))
                .col(string_len(BalanceLeases::AmountWei, 40))
                .col(integer(BalanceLeases::Recalled).default(0))
                .col(big_integer(BalanceLeases::UpdatedAtMs))
                .primary_key(
                    Index::create()
                        .col(BalanceLeases::Address)
                        .col(BalanceLeases::Member),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_balance_leases_member")
                .table(BalanceLeases::Table)
                .col(BalanceLeases::Member)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ClusterLeases::Table)
                .add_column(big_integer_null(ClusterLeases::SealedEpoch))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ClusterLeases::Table)
                .drop_column(ClusterLeases::SealedEpoch)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(BalanceLeases::Table).to_owned())
            .await
    }
}
