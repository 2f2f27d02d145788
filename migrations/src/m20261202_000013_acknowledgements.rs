use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `billing_modes`: clients that chose acknowledged billing (`ack`) with their signed
/// `AckMode`; a client without a row is billed in `cap` mode.
#[derive(DeriveIden)]
enum BillingModes {
    Table,
    Client,
    FromEpoch,
    Deadline,
    Signature,
    IntentKey,
    CreatedAtMs,
}

/// `acknowledgements`: each `ack` client's latest (highest) signed `Acknowledgement` per epoch,
/// written by the ledger writer before it counts.
#[derive(DeriveIden)]
enum Acknowledgements {
    Table,
    Id,
    Client,
    Epoch,
    AmountWei,
    Calls,
    Signature,
    ReceivedAtMs,
}

/// Client-acknowledged billing (issue 15).
#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(BillingModes::Table)
                .col(string_len(BillingModes::Client, 42).primary_key())
                .col(big_integer(BillingModes::FromEpoch))
                .col(big_integer(BillingModes::Deadline))
                .col(text(BillingModes::Signature))
                .col(string_len_null(BillingModes::IntentKey, 160))
                .col(big_integer(BillingModes::CreatedAtMs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Acknowledgements::Table)
                .col(string_len(Acknowledgements::Id, 80).primary_key())
                .col(string_len(Acknowledgements::Client, 42))
                .col(big_integer(Acknowledgements::Epoch))
                .col(text(Acknowledgements::AmountWei))
                .col(big_integer(Acknowledgements::Calls))
                .col(text(Acknowledgements::Signature))
                .col(big_integer(Acknowledgements::ReceivedAtMs))
                .to_owned(),
        )
        .await?;
        crate::create_index(
            m,
            "idx_acknowledgements_epoch",
            Acknowledgements::Table,
            [Acknowledgements::Epoch],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Acknowledgements::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(BillingModes::Table).to_owned())
            .await
    }
}
