use sea_orm_migration::{prelude::*, schema::*};

use crate::tables::*;

migration!();

table! {
    /// `balance_leases` (issue 17; docs/DEPLOY.md): in cluster mode every replica meters from a
    /// slice of a client's balance that it leased in the database. One row per client and
    /// replica: `member` is the replica's membership lease in `cluster_leases` (`member:<hash of
    /// the replica id>`) and `token` its term; the row counts only while that term is live, so
    /// what a crashed replica held comes back when its membership lapses. `amount_wei` is what is
    /// leased and not yet charged; `recalled` is set by a replica that came up short while others
    /// hold leases (their holders hand back what is not in flight).
    BalanceLeases {
        Address: address,
        Member: string_len(64),
        Token: big_integer,
        AmountWei: wei,
        Recalled: integer.default(0),
        UpdatedAtMs: ms,
    }
    index idx_balance_leases_member(Member);
}

/// The epoch each replica has sealed (every receipt of it and earlier committed, no more to
/// come), on its membership row: the leader closes an epoch only once every live replica sealed it.
#[derive(DeriveIden)]
enum ClusterLeases {
    Table,
    SealedEpoch,
}

async fn up(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let mut leases = BalanceLeases::table();
    leases.primary_key(
        Index::create()
            .col(BalanceLeases::Address)
            .col(BalanceLeases::Member),
    );
    m.create_table(leases).await?;
    for index in BalanceLeases::indexes() {
        m.create_index(index).await?;
    }
    add_column(
        m,
        ClusterLeases::Table,
        big_integer_null(ClusterLeases::SealedEpoch),
    )
    .await
}

async fn down(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_columns(m, ClusterLeases::Table, [ClusterLeases::SealedEpoch]).await?;
    drop_table(m, BalanceLeases::Table).await
}
