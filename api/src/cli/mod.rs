//! The `imo` command line: one module per command group; `main.rs` only parses and dispatches.

mod acks;
mod admin;
mod balances;
mod contracts;
mod models;
mod verify;
mod wallet;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "imo",
    version,
    about = "imo-oracle: pay model creators every time their model is used"
)]
#[command(
    long_about = "imo-oracle registers ONNX models with a weights commitment, serves metered \
inference, and pays each model's ERC-7641 token holders. Configuration: defaults, then --config \
FILE (TOML), then IMO_<SECTION>_<KEY> environment variables (e.g. IMO_DATABASE_URL)."
)]
pub struct Cli {
    /// TOML config file.
    #[arg(long, global = true, env = "IMO_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (migrates the database first); SIGINT/SIGTERM stop it in order.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage API keys (directly in the configured database).
    Keys {
        #[command(subcommand)]
        command: admin::KeysCommand,
    },
    /// Talk to a running server about models.
    Models {
        #[command(subcommand)]
        command: models::ModelsCommand,
    },
    /// Client balances (through a running server, with an admin key).
    Balances {
        #[command(subcommand)]
        command: balances::BalancesCommand,
    },
    /// The operator key that signs receipts.
    Operator {
        #[command(subcommand)]
        command: admin::OperatorCommand,
    },
    /// The contracts on the configured chain (`[chain]` config, IMO_CHAIN_*).
    Contracts {
        #[command(subcommand)]
        command: contracts::ContractsCommand,
    },
    /// Your own wallet against the deployed contracts: deposit, authorise spending, withdraw
    /// (clients); transfer, claim, burn model tokens (holders). Contract addresses come from the
    /// server (`GET /v1/contracts`), transactions go to chain.rpc_url.
    Wallet {
        #[command(flatten)]
        wallet: wallet::WalletArgs,
        #[command(subcommand)]
        command: wallet::WalletCommand,
    },
    /// The operator's on-chain actions and their gas (through a running server, admin key).
    Transactions {
        /// Only this state (pending, sent, mined, final, failed).
        #[arg(long)]
        state: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// One metered inference call (a client key); `--record DIR` keeps the request and its
    /// receipt for `imo verify`.
    Infer(verify::InferArgs),
    /// Re-execute recorded calls with the reference interpreter and challenge every wrong output
    /// in the inference dispute game, playing each game to its end (docs/PROTOCOL.md §9.7).
    Verify(verify::VerifyArgs),
    /// The caller's billing mode; choose acknowledged billing with the client's key.
    Billing {
        #[command(subcommand)]
        command: acks::BillingCommand,
    },
    /// Check every recorded call's receipt (`imo infer --record`), print the verify report and,
    /// with --send, sign and send each epoch's acknowledgement (docs/PROTOCOL.md §4.1).
    Acks(acks::AcksArgs),
    /// Print the OpenAPI document.
    Openapi,
    /// Ask the local service whether it is ready (`GET /readyz` on `server.bind`, 0.0.0.0 as
    /// 127.0.0.1): exit 0 when ready, 1 otherwise. The container image's health check.
    Health {
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 3)]
        timeout_secs: u64,
    },
    /// Load the configuration (defaults, --config, IMO_*), print it with secrets redacted, and
    /// exit: 1 with the reason when it does not load.
    Config,
}

/// Where the server is and the key to use.
#[derive(clap::Args)]
pub(crate) struct ServerArgs {
    /// Base URL of the server.
    #[arg(long, env = "IMO_URL", default_value = "http://127.0.0.1:8080")]
    pub(crate) url: String,
    /// API key.
    #[arg(long, env = "IMO_API_KEY", hide_env_values = true)]
    pub(crate) key: Option<String>,
}

impl ServerArgs {
    /// A client with the key, or an error naming the key `what` is needed.
    pub(crate) fn keyed(&self, what: &str) -> anyhow::Result<imo_client::Client> {
        let Some(key) = &self.key else {
            anyhow::bail!("{what} API key is required: pass --key or set IMO_API_KEY")
        };
        Ok(imo_client::Client::new(&self.url).with_key(key.clone()))
    }
}

/// `imo health`: the local service's readiness.
async fn health(config: &imo_oracle::config::Config, timeout_secs: u64) -> anyhow::Result<()> {
    let mut addr = config.server.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let url = format!("http://{addr}");
    let client = imo_client::Client::new(&url);
    let ready = tokio::time::timeout(std::time::Duration::from_secs(timeout_secs), client.ready())
        .await
        .map_err(|_| anyhow::anyhow!("{url}/readyz did not answer within {timeout_secs} s"))?
        .with_context(|| format!("{url}/readyz"))?;
    println!("{url}: {}", ready.status);
    Ok(())
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = crate::config::load(cli.config.as_deref()).context("invalid configuration")?;
    crate::telemetry::init(&config.log);
    match cli.command {
        Command::Serve => {
            tracing::info!(?config, "starting imo-oracle");
            let clock = std::sync::Arc::new(imo_oracle::clock::SystemClock);
            crate::app::App::build(config, clock)
                .await?
                .run_until_signal()
                .await;
        }
        Command::Migrate => {
            let db = imo_oracle::db::connect(&config.database).await?;
            imo_oracle::db::migrate(&db).await?;
            println!("migrations applied to {}", config.database.redacted_url());
        }
        Command::Keys { command } => admin::keys(command, &config).await?,
        Command::Operator { command } => admin::operator(command)?,
        Command::Models { command } => models::run(command).await?,
        Command::Balances { command } => balances::run(command).await?,
        Command::Contracts { command } => contracts::run(command, &config).await?,
        Command::Transactions { state, server } => admin::transactions(state, server).await?,
        Command::Wallet { wallet, command } => wallet::run(wallet, command, &config).await?,
        Command::Infer(args) => verify::infer(args).await?,
        Command::Verify(args) => verify::verify(args, &config).await?,
        Command::Billing { command } => acks::billing(command).await?,
        Command::Acks(args) => acks::acks(args).await?,
        Command::Openapi => print!("{}", crate::openapi::render()),
        Command::Health { timeout_secs } => health(&config, timeout_secs).await?,
        Command::Config => println!("{config:#?}"),
    }
    Ok(())
}
