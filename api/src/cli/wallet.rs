//! `imo wallet`: a participant's own wallet against the deployed contracts.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use imo_oracle::types::Address;

use super::ServerArgs;

#[derive(Subcommand)]
pub(crate) enum WalletCommand {
    /// ETH, vault account and (with --model) token balance.
    Show {
        /// A tokenized model (name or id).
        #[arg(long)]
        model: Option<String>,
    },
    /// Deposit ETH into the PaymentVault (prepay inference).
    Deposit {
        /// Amount in wei.
        amount_wei: String,
    },
    /// Sign a SpendingCap (lifetime, cumulative) and hand it to the service, which submits it
    /// to the vault. Needs the client's API key (IMO_API_KEY).
    Authorize {
        /// New lifetime cap in wei.
        cap_wei: String,
        /// How long the signature may wait to be submitted, in seconds of chain time.
        #[arg(long, default_value_t = 3600)]
        valid_secs: u64,
    },
    /// Ask to withdraw from the vault (executable after the withdrawal delay).
    RequestWithdrawal {
        /// Amount in wei.
        amount_wei: String,
    },
    /// Execute the requested withdrawal.
    Withdraw,
    /// Transfer a model's tokens.
    Transfer {
        /// A tokenized model (name or id).
        #[arg(long)]
        model: String,
        /// Recipient address.
        #[arg(long)]
        to: String,
        /// Whole tokens (decimals allowed, 18 places).
        #[arg(long)]
        amount_tokens: String,
    },
    /// Claim every snapshot of a model's token with revenue for this wallet.
    Claim {
        /// A tokenized model (name or id).
        #[arg(long)]
        model: String,
    },
    /// Burn tokens to redeem their share of the redeem pool.
    Burn {
        /// A tokenized model (name or id).
        #[arg(long)]
        model: String,
        /// Whole tokens (decimals allowed, 18 places).
        #[arg(long)]
        amount_tokens: String,
    },
}

#[derive(clap::Args)]
pub(crate) struct WalletArgs {
    /// A file holding the wallet's secp256k1 key (hex).
    #[arg(long, env = "IMO_WALLET_KEY_FILE", value_name = "FILE")]
    pub(crate) key_file: PathBuf,
    #[command(flatten)]
    pub(crate) server: ServerArgs,
}

pub(crate) fn wei_arg(s: &str, what: &str) -> anyhow::Result<alloy::primitives::U256> {
    s.trim()
        .parse()
        .with_context(|| format!("{what} `{s}` is not a whole number of wei"))
}

pub(crate) fn tokens_arg(s: &str) -> anyhow::Result<alloy::primitives::U256> {
    let v = alloy::primitives::utils::parse_units(s.trim(), 18)
        .with_context(|| format!("`{s}` is not an amount of tokens (up to 18 decimals)"))?;
    Ok(v.get_absolute())
}

pub(crate) fn print_tx(what: &str, t: &imo_client::wallet::Sent) {
    println!(
        "{what}: tx {:#x} in block {}, gas used {}, fee {} wei",
        t.tx_hash, t.block_number, t.gas_used, t.fee_wei
    );
}

pub(crate) async fn run(
    args: WalletArgs,
    command: WalletCommand,
    config: &imo_oracle::config::Config,
) -> anyhow::Result<()> {
    use imo_client::wallet::{Wallet, sign_spending_cap};
    let key = imo_oracle::chain::read_key(&args.key_file, "wallet")?;
    let server = imo_client::Client::new(&args.server.url);
    let server = match &args.server.key {
        Some(k) => server.with_key(k.clone()),
        None => server,
    };
    let contracts = server
        .contracts()
        .await
        .context("reading the contract addresses from the server (GET /v1/contracts)")?;
    let vault: alloy::primitives::Address = contracts.payment_vault.parse()?;
    let w = Wallet::new(&config.chain, key.clone())?;
    let token_of = |model: String| {
        let server = server.clone();
        async move {
            let t = server.token(&model).await?;
            match t.token_address {
                Some(a) if t.state == "tokenized" => {
                    Ok::<_, anyhow::Error>(a.parse::<alloy::primitives::Address>()?)
                }
                _ => bail!("model {model} is {}, not tokenized", t.state),
            }
        }
    };
    match command {
        WalletCommand::Show { model } => {
            let a = w.vault_account(vault).await?;
            println!("{}: {} wei of ETH", w.address(), w.eth().await?);
            println!(
                "  vault {vault}: balance {} wei, spent {} wei, cap {} wei, withdrawal requested {} wei (ready at {})",
                a.balance_wei, a.spent_wei, a.cap_wei, a.withdrawal_wei, a.withdrawal_ready_at
            );
            if let Some(m) = model {
                let token = token_of(m.clone()).await?;
                println!(
                    "  {m} token {token}: {} base units",
                    w.token_balance(token).await?
                );
            }
        }
        WalletCommand::Deposit { amount_wei } => {
            let amount = wei_arg(&amount_wei, "amount")?;
            let t = w.deposit(vault, amount).await?;
            print_tx(
                &format!("deposited {amount} wei into the vault {vault}"),
                &t,
            );
        }
        WalletCommand::Authorize {
            cap_wei,
            valid_secs,
        } => {
            if args.server.key.is_none() {
                bail!("the client's API key is required: pass --key or set IMO_API_KEY");
            }
            let cap = wei_arg(&cap_wei, "cap")?;
            let deadline = w.chain_time().await? + valid_secs;
            let signed = sign_spending_cap(&key, contracts.chain_id, vault, cap, deadline)?;
            let r = server
                .spending_cap(
                    &signed.client.to_string(),
                    &cap.to_string(),
                    deadline,
                    &signed.signature,
                )
                .await?;
            println!(
                "signed SpendingCap({}, {} wei, deadline {}); the service submits it: transaction {} ({})",
                r.client,
                r.cap_wei,
                r.deadline,
                r.transaction.as_ref().map_or("-", |t| t.key.as_str()),
                r.transaction.as_ref().map_or("-", |t| t.state.as_str())
            );
        }
        WalletCommand::RequestWithdrawal { amount_wei } => {
            let amount = wei_arg(&amount_wei, "amount")?;
            let t = w.request_withdrawal(vault, amount).await?;
            let a = w.vault_account(vault).await?;
            print_tx(
                &format!(
                    "requested a withdrawal of {amount} wei, ready at unix time {}",
                    a.withdrawal_ready_at
                ),
                &t,
            );
        }
        WalletCommand::Withdraw => {
            let before = w.vault_account(vault).await?;
            let t = w.withdraw(vault).await?;
            let paid = before.withdrawal_wei.min(before.balance_wei);
            print_tx(&format!("withdrew {paid} wei from the vault"), &t);
        }
        WalletCommand::Transfer {
            model,
            to,
            amount_tokens,
        } => {
            let token = token_of(model.clone()).await?;
            let to: Address = to.parse()?;
            let amount = tokens_arg(&amount_tokens)?;
            let t = w.transfer_tokens(token, to.0, amount).await?;
            print_tx(&format!("sent {amount_tokens} {model} tokens to {to}"), &t);
        }
        WalletCommand::Claim { model } => {
            let token = token_of(model.clone()).await?;
            match w.claim(token).await? {
                Some(c) => print_tx(
                    &format!(
                        "claimed {} wei of {model} revenue (snapshots {:?})",
                        c.amount_wei, c.snapshot_ids
                    ),
                    &c.tx,
                ),
                None => println!("nothing to claim from {model} for {}", w.address()),
            }
        }
        WalletCommand::Burn {
            model,
            amount_tokens,
        } => {
            let token = token_of(model.clone()).await?;
            let (pays, t) = w.burn(token, tokens_arg(&amount_tokens)?).await?;
            print_tx(
                &format!("burned {amount_tokens} {model} tokens for {pays} wei"),
                &t,
            );
        }
    }
    Ok(())
}
