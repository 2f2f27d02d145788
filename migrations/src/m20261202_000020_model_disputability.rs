use sea_orm_migration::{prelude::*, schema::*};

use crate::tables::*;

migration!();

#[derive(DeriveIden)]
enum Models {
    Table,
    Disputable,
    DisputeBlockedBy,
    DisputeFingerprint,
    ProgramId,
}

/// Whether calls to a model can be disputed on-chain (docs/PROTOCOL.md §9.1): the verdict of
/// `judge::assess` at registration, the execution fingerprint it holds for (`NULL`: not
/// assessed yet), what blocked it (JSON) and the program id to commit. One column per
/// statement: SQLite alters one column at a time.
async fn up(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    for c in [
        boolean(Models::Disputable).default(false).take(),
        text_null(Models::DisputeBlockedBy),
        text_null(Models::DisputeFingerprint),
        hash_null(Models::ProgramId),
    ] {
        add_column(m, Models::Table, c).await?;
    }
    Ok(())
}

async fn down(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let cols = [
        Models::ProgramId,
        Models::DisputeFingerprint,
        Models::DisputeBlockedBy,
        Models::Disputable,
    ];
    drop_columns(m, Models::Table, cols).await
}
