//! What every migration is built from: the `Migration` of a file (`migration!`), the kinds of
//! column the schema keeps (addresses, hashes, wei as decimal text, Unix milliseconds…), and the
//! statements that make, alter and drop tables and indexes.

use sea_orm_migration::{prelude::*, schema::*};

/// The `Migration` of one file: named after the file (sea-orm records the name of each applied
/// migration), running the file's `up` and `down` functions; `migration!(creates <table>)` for
/// one that creates a table (`table!`) and drops it when undone.
macro_rules! migration {
    (creates $table:ident) => {
        $crate::tables::migration!();

        async fn up(m: &SchemaManager<'_>) -> Result<(), DbErr> {
            $crate::tables::create::<$table>(m).await
        }

        async fn down(m: &SchemaManager<'_>) -> Result<(), DbErr> {
            $crate::tables::drop_table(m, $table::Table).await
        }
    };
    () => {
        #[derive(DeriveMigrationName)]
        pub struct Migration;

        #[async_trait::async_trait]
        #[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
        impl MigrationTrait for Migration {
            async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
                up(m).await
            }

            async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
                down(m).await
            }
        }
    };
}
pub(crate) use migration;

/// A table, its columns and indexes declared once: the iden enum (`Table` and one variant a
/// column, for the statements that name them) and its [`TableDef`]: each column of the kind named
/// (a function of this module or of sea-orm's `schema`, its other arguments after the column)
/// with the modifiers that follow it (`.primary_key()`, `.unique_key()`, `.default(0)`), then
/// each `index <name>(<columns>)` (`.unique()` for a unique one).
macro_rules! table {
    (
        $(#[$meta:meta])*
        $vis:vis $name:ident {
            $($col:ident: $kind:ident $(($($arg:expr),*))? $(.$modifier:ident($($marg:expr),*))*,)*
        }
        $(index $index:ident($($icol:ident),+) $(.$imodifier:ident())*;)*
    ) => {
        $(#[$meta])*
        #[derive(DeriveIden)]
        $vis enum $name {
            Table,
            $($col,)*
        }

        impl $crate::tables::TableDef for $name {
            fn table() -> TableCreateStatement {
                let mut table = Table::create();
                table.table($name::Table);
                $(table.col($kind($name::$col $($(, $arg)*)?)$(.$modifier($($marg),*))*);)*
                table
            }

            fn indexes() -> Vec<IndexCreateStatement> {
                vec![$(
                    $crate::tables::index(stringify!($index), $name::Table, [$($name::$icol),+])
                        $(.$imodifier())*
                        .take(),
                )*]
            }
        }
    };
}
pub(crate) use table;

/// A text primary key of at most `len` characters.
pub(crate) fn text_key<T: IntoIden>(col: T, len: u32) -> ColumnDef {
    string_len(col, len).primary_key().take()
}

/// An Ethereum address: `0x` and 40 hex digits.
pub(crate) fn address<T: IntoIden>(col: T) -> ColumnDef {
    string_len(col, 42)
}

/// An address that may be missing.
pub(crate) fn address_null<T: IntoIden>(col: T) -> ColumnDef {
    string_len_null(col, 42)
}

/// A 32-byte hash or id as written on-chain: `0x` and 64 hex digits.
pub(crate) fn hash<T: IntoIden>(col: T) -> ColumnDef {
    string_len(col, 66)
}

/// A 32-byte hash that may be missing.
pub(crate) fn hash_null<T: IntoIden>(col: T) -> ColumnDef {
    string_len_null(col, 66)
}

/// A SHA-256 digest as the service writes it: 64 hex digits, no `0x`.
pub(crate) fn sha256<T: IntoIden>(col: T) -> ColumnDef {
    string_len(col, 64)
}

/// An amount of wei as decimal text (a u128 has at most 39 digits).
pub(crate) fn wei<T: IntoIden>(col: T) -> ColumnDef {
    string_len(col, 40)
}

/// An amount of wei as decimal text of any length (the chain's amounts are uint256).
pub(crate) fn wei_text<T: IntoIden>(col: T) -> ColumnDef {
    text(col)
}

/// A time in Unix milliseconds.
pub(crate) fn ms<T: IntoIden>(col: T) -> ColumnDef {
    big_integer(col)
}

/// A time in Unix milliseconds that may be missing.
pub(crate) fn ms_null<T: IntoIden>(col: T) -> ColumnDef {
    big_integer_null(col)
}

/// The state of a row's state machine (`open`, `attested`…).
pub(crate) fn state<T: IntoIden>(col: T) -> ColumnDef {
    string_len(col, 16)
}

/// The key of a transaction manager's intent (`attest:42:1`, `register:<weights root>`…).
pub(crate) fn intent_key<T: IntoIden>(col: T) -> ColumnDef {
    string_len(col, 160)
}

/// An intent's key that may be missing.
pub(crate) fn intent_key_null<T: IntoIden>(col: T) -> ColumnDef {
    string_len_null(col, 160)
}

/// What `table!` declares of a table.
pub(crate) trait TableDef {
    /// `CREATE TABLE <table> (<columns>)`.
    fn table() -> TableCreateStatement;
    /// `CREATE INDEX <name> ON <table> (<columns>)` for each of its indexes.
    fn indexes() -> Vec<IndexCreateStatement>;
}

/// Creates the table, then its indexes.
pub(crate) async fn create<T: TableDef>(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(T::table()).await?;
    for index in T::indexes() {
        m.create_index(index).await?;
    }
    Ok(())
}

/// `DROP TABLE <table>` for each table, in order.
pub(crate) async fn drop_tables<const N: usize>(
    m: &SchemaManager<'_>,
    tables: [DynIden; N],
) -> Result<(), DbErr> {
    for t in tables {
        m.drop_table(Table::drop().table(t).to_owned()).await?;
    }
    Ok(())
}

/// `DROP TABLE <table>`.
pub(crate) async fn drop_table<T: IntoIden>(m: &SchemaManager<'_>, table: T) -> Result<(), DbErr> {
    drop_tables(m, [table.into_iden()]).await
}

/// `ALTER TABLE <table> ADD COLUMN <col>` (SQLite alters one column a statement).
pub(crate) async fn add_column<T: IntoIden>(
    m: &SchemaManager<'_>,
    table: T,
    col: ColumnDef,
) -> Result<(), DbErr> {
    m.alter_table(Table::alter().table(table).add_column(col).to_owned())
        .await
}

/// `ALTER TABLE <table> DROP COLUMN <col>` for each column, in order.
pub(crate) async fn drop_columns<T: IntoIden, C: IntoIden, const N: usize>(
    m: &SchemaManager<'_>,
    table: T,
    cols: [C; N],
) -> Result<(), DbErr> {
    let table = table.into_iden();
    for c in cols {
        m.alter_table(
            Table::alter()
                .table(table.clone())
                .drop_column(c)
                .to_owned(),
        )
        .await?;
    }
    Ok(())
}

/// `CREATE INDEX <name> ON <table> (<cols>)`.
pub(crate) async fn create_index<T: IntoIden, C: IntoIden, const N: usize>(
    m: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: [C; N],
) -> Result<(), DbErr> {
    m.create_index(index(name, table, cols)).await
}

/// `CREATE INDEX <name> ON <table> (<cols>)`, not yet made.
pub(crate) fn index<T: IntoIden, C: IntoIden, const N: usize>(
    name: &str,
    table: T,
    cols: [C; N],
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for c in cols {
        index.col(c);
    }
    index
}
