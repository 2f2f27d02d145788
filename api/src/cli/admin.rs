//! `imo keys`, `imo operator`, `imo transactions`: the operator's own administration.

use std::path::PathBuf;

use clap::Subcommand;
use imo_oracle::types::{Address, BoundedText, Role};

use super::ServerArgs;

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Create an API key bound to an address and a role. The key is printed once.
    Create {
        /// Ethereum address the key acts for.
        #[arg(long)]
        address: String,
        /// publisher, client or admin.
        #[arg(long, default_value = "publisher")]
        role: String,
        /// Free-text label.
        #[arg(long, default_value = "")]
        label: String,
        /// Print only the key (for scripts).
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum OperatorCommand {
    /// Generate a new operator key into FILE (mode 600) unless it exists; print its address.
    Init {
        /// Where to write the key (hex).
        #[arg(long, default_value = "data/operator.key")]
        out: PathBuf,
    },
}

pub(crate) async fn keys(
    command: KeysCommand,
    config: &imo_oracle::config::Config,
) -> anyhow::Result<()> {
    let KeysCommand::Create {
        address,
        role,
        label,
        quiet,
    } = command;
    let address: Address = address.parse()?;
    let role: Role = role.parse()?;
    let label = BoundedText::parse("label", &label, 200)?;
    let db = imo_oracle::db::connect(&config.database).await?;
    imo_oracle::db::migrate(&db).await?;
    let clock = std::sync::Arc::new(imo_oracle::clock::SystemClock);
    let key = imo_oracle::auth::Auth::new(db, config.auth.clone(), clock)
        .create_key(address, role, label)
        .await?;
    if quiet {
        println!("{}", key.secret);
    } else {
        println!("created {} key {} for {}", key.role, key.id, key.address);
        println!("key (shown once, store it now): {}", key.secret);
    }
    Ok(())
}

pub(crate) fn operator(command: OperatorCommand) -> anyhow::Result<()> {
    let OperatorCommand::Init { out } = command;
    if !out.exists() {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let key = alloy::signers::local::PrivateKeySigner::random();
        write_secret(&out, &format!("0x{}\n", hex::encode(key.to_bytes())))?;
    }
    let key = imo_oracle::chain::read_key(&out, "operator")?;
    println!("{}", key.address());
    Ok(())
}

pub(crate) async fn transactions(state: Option<String>, server: ServerArgs) -> anyhow::Result<()> {
    let list = server
        .keyed("an admin")?
        .transactions(state.as_deref())
        .await?;
    let mut total = 0u64;
    for t in &list.transactions {
        total += t.gas_used.unwrap_or_default();
        println!(
            "{:<76} {:<8} nonce {:>4}  gas used {:>9}  block {:>5}  {}",
            t.key,
            t.state,
            t.nonce.map_or("-".into(), |n| n.to_string()),
            t.gas_used.map_or("-".into(), |g| g.to_string()),
            t.block_number.map_or("-".into(), |b| b.to_string()),
            t.tx_hash.as_deref().unwrap_or("-")
        );
        if let Some(e) = &t.error {
            println!("    error: {e}");
        }
    }
    println!(
        "{} transactions, {total} gas in all",
        list.transactions.len()
    );
    Ok(())
}

fn write_secret(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}
