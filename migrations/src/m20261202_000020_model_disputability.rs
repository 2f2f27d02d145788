use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

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
#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let add = |c: ColumnDef| Table::alter().table(Models::Table).add_column(c).to_owned();
        m.alter_table(add(boolean(Models::Disputable).default(false).to_owned()))
            .await?;
        m.alter_table(add(text_null(Models::DisputeBlockedBy)))
            .await?;
        m.alter_table(add(text_null(Models::DisputeFingerprint)))
            .await?;
        m.alter_table(add(string_len_null(Models::ProgramId, 66)))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for c in [
            Models::ProgramId,
            Models::DisputeFingerprint,
            Models::DisputeBlockedBy,
            Models::Disputable,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Models::Table)
                    .drop_column(c)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
