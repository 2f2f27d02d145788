use sea_orm_migration::{prelude::*, schema::*};

use crate::tables::*;

migration!();

#[derive(DeriveIden)]
enum Epochs {
    Table,
    State,
    Attempt,
    ShortfallWei,
    AttestKey,
    FinalizeKey,
}

#[derive(DeriveIden)]
enum Challenges {
    Table,
    State,
    RespondKey,
}

/// The chain loop as typed state machines: an epoch's or a challenge's state no longer mirrors
/// the transaction in flight (the transaction manager answers that by the action's key), so the
/// in-between states fold into the state they act from and the key columns go; an epoch gains
/// its attestation attempt (a retry with a new cover) and the shortfall its attestation left.
async fn up(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    for (from, to) in [
        ("attesting", "closed"),
        ("finalizing", "attested"),
        ("unwinding", "voided"),
    ] {
        m.exec_stmt(
            Query::update()
                .table(Epochs::Table)
                .value(Epochs::State, to)
                .and_where(Expr::col(Epochs::State).eq(from))
                .to_owned(),
        )
        .await?;
    }
    m.exec_stmt(
        Query::update()
            .table(Challenges::Table)
            .value(Challenges::State, "open")
            .and_where(Expr::col(Challenges::State).eq("answering"))
            .to_owned(),
    )
    .await?;
    add_column(m, Epochs::Table, integer(Epochs::Attempt).default(1).take()).await?;
    add_column(
        m,
        Epochs::Table,
        string_len(Epochs::ShortfallWei, 80).default("0").take(),
    )
    .await?;
    drop_columns(m, Epochs::Table, [Epochs::AttestKey, Epochs::FinalizeKey]).await?;
    drop_columns(m, Challenges::Table, [Challenges::RespondKey]).await
}

async fn down(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    add_column(
        m,
        Challenges::Table,
        intent_key_null(Challenges::RespondKey),
    )
    .await?;
    for col in [Epochs::AttestKey, Epochs::FinalizeKey] {
        add_column(m, Epochs::Table, intent_key_null(col)).await?;
    }
    drop_columns(m, Epochs::Table, [Epochs::Attempt, Epochs::ShortfallWei]).await
}
