use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

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
#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
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
        m.alter_table(
            Table::alter()
                .table(Epochs::Table)
                .add_column(integer(Epochs::Attempt).default(1))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Epochs::Table)
                .add_column(string_len(Epochs::ShortfallWei, 80).default("0"))
                .to_owned(),
        )
        .await?;
        for col in [Epochs::AttestKey, Epochs::FinalizeKey] {
            m.alter_table(
                Table::alter()
                    .table(Epochs::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Challenges::Table)
                .drop_column(Challenges::RespondKey)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Challenges::Table)
                .add_column(string_len_null(Challenges::RespondKey, 160))
                .to_owned(),
        )
        .await?;
        for col in [Epochs::AttestKey, Epochs::FinalizeKey] {
            m.alter_table(
                Table::alter()
                    .table(Epochs::Table)
                    .add_column(string_len_null(col, 160))
                    .to_owned(),
            )
            .await?;
        }
        for col in [Epochs::Attempt, Epochs::ShortfallWei] {
            m.alter_table(
                Table::alter()
                    .table(Epochs::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
