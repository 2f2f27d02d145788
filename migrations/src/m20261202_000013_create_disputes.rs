use sea_orm_migration::{prelude::*, schema::*};

use crate::create_index;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `disputes`: inference dispute games opened over the operator's receipts and their outcome
/// (`open` → `won` / `lost`), played by the `disputes` job.
#[derive(DeriveIden)]
enum Disputes {
    Table,
    GameId,
    ReceiptHash,
    Challenger,
    Client,
    ClaimedOutputHash,
    OpenTx,
    OpenedBlock,
    State,
    Note,
    CreatedAtMs,
    UpdatedAtMs,
}

#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Disputes::Table)
                .col(string_len(Disputes::GameId, 66).primary_key())
                .col(string_len(Disputes::ReceiptHash, 66))
                .col(string_len(Disputes::Challenger, 42))
                .col(string_len(Disputes::Client, 42))
                .col(string_len(Disputes::ClaimedOutputHash, 66))
                .col(string_len(Disputes::OpenTx, 66))
                .col(big_integer(Disputes::OpenedBlock))
                .col(string_len(Disputes::State, 16))
                .col(text_null(Disputes::Note))
                .col(big_integer(Disputes::CreatedAtMs))
                .col(big_integer(Disputes::UpdatedAtMs))
                .to_owned(),
        )
        .await?;
        create_index(m, "idx_disputes_state", Disputes::Table, [Disputes::State]).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Disputes::Table).to_owned())
            .await
    }
}
