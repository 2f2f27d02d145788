//! `imo`: the imo-oracle command line. Kept small: the libraries do the work.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use imo_api::client::{Client, Upload};
use imo_oracle::{
    Oracle,
    types::{Address, BoundedText, Role},
};
use indicatif::{ProgressBar, ProgressStyle};

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
struct Cli {
    /// TOML config file.
    #[arg(long, global = true, env = "IMO_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (migrates the database first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage API keys (directly in the configured database).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Talk to a running server about models.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Client balances (through a running server, with an admin key).
    Balances {
        #[command(subcommand)]
        command: BalancesCommand,
    },
    /// The operator key that signs receipts.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// The contracts on the configured chain (`[chain]` config, IMO_CHAIN_*).
    Contracts {
        #[command(subcommand)]
        command: ContractsCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Subcommand)]
enum ContractsCommand {
    /// Deploy and wire ModelRegistry, PaymentVault and UsageOracle with the deployer key
    /// (chain.deployer_key_file) as admin and the operator key (metering.operator_key_file) as
    /// OPERATOR_ROLE; record the addresses in the database; fund the operator if it has no ETH.
    Deploy,
    /// Print the latest recorded deployment on chain.chain_id.
    Show,
}

#[derive(Subcommand)]
enum BalancesCommand {
    /// Credit a client address (admin key).
    Credit {
        /// Client address.
        address: String,
        /// Amount in wei.
        amount_wei: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show the balance of the key's own address.
    Show {
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Generate a new operator key into FILE (mode 600) unless it exists; print its address.
    Init {
        /// Where to write the key (hex).
        #[arg(long, default_value = "data/operator.key")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
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
enum ModelsCommand {
    /// Upload an ONNX model to a running server, with a progress bar.
    Register {
        /// The .onnx file.
        file: PathBuf,
        /// Unique model name (defaults to the file name without extension).
        #[arg(long)]
        name: Option<String>,
        /// Price per call in wei.
        #[arg(long, default_value = "0")]
        price_wei: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        version: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List registered models.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Base URL of the server.
    #[arg(long, env = "IMO_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// API key (publisher).
    #[arg(long, env = "IMO_API_KEY", hide_env_values = true)]
    key: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = imo_api::config::load(cli.config.as_deref()).context("invalid configuration")?;
    imo_api::telemetry::init(&config.log);
    match cli.command {
        Command::Serve => {
            tracing::info!(?config, "starting imo-oracle");
            let oracle = Oracle::start(config).await?;
            let scheduler = match &oracle.chain {
                Some(chain) if !chain.config().jobs.is_empty() => {
                    Some(imo_oracle::chain::jobs::start(chain.clone()).await?)
                }
                _ => None,
            };
            let server = imo_api::server::start(oracle, true)?;
            tracing::info!(addr = %server.addr, "listening; API docs at http://{}/docs/", server.addr);
            server.task.await??;
            if let Some(s) = scheduler {
                s.shutdown().await;
            }
            tracing::info!("stopped");
        }
        Command::Migrate => {
            let db = imo_oracle::db::connect(&config.database).await?;
            imo_oracle::db::migrate(&db).await?;
            println!("migrations applied to {}", config.database.redacted_url());
        }
        Command::Keys {
            command:
                KeysCommand::Create {
                    address,
                    role,
                    label,
                    quiet,
                },
        } => {
            let address: Address = address.parse()?;
            let role: Role = role.parse()?;
            let label = BoundedText::parse("label", &label, 200)?;
            let db = imo_oracle::db::connect(&config.database).await?;
            imo_oracle::db::migrate(&db).await?;
            let key = imo_oracle::auth::Auth::new(db, config.auth.clone())
                .create_key(address, role, label)
                .await?;
            if quiet {
                println!("{}", key.secret);
            } else {
                println!("created {} key {} for {}", key.role, key.id, key.address);
                println!("key (shown once, store it now): {}", key.secret);
            }
        }
        Command::Models { command } => models(command).await?,
        Command::Balances { command } => balances(command).await?,
        Command::Operator {
            command: OperatorCommand::Init { out },
        } => {
            if !out.exists() {
                if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                let key = alloy::signers::local::PrivateKeySigner::random();
                write_secret(&out, &format!("0x{}\n", hex::encode(key.to_bytes())))?;
            }
            let key: alloy::signers::local::PrivateKeySigner =
                std::fs::read_to_string(&out)?.trim().parse()?;
            println!("{}", key.address());
        }
        Command::Contracts { command } => contracts(command, &config).await?,
        Command::Openapi => print!("{}", imo_api::openapi::render()),
    }
    Ok(())
}

async fn contracts(
    command: ContractsCommand,
    config: &imo_oracle::config::Config,
) -> anyhow::Result<()> {
    let db = imo_oracle::db::connect(&config.database).await?;
    imo_oracle::db::migrate(&db).await?;
    let chain_id = config.chain.chain_id;
    match command {
        ContractsCommand::Deploy => {
            let operator =
                imo_oracle::receipts::ReceiptSigner::from_config(&config.metering)?.operator();
            let chain = imo_oracle::chain::Chain::connect(&config.chain).await?;
            println!(
                "deploying to chain {chain_id} at {} (deployer {}, operator {operator})",
                config.chain.redacted_rpc_url(),
                chain.deployer()
            );
            let d = chain.deploy(operator).await?;
            imo_oracle::chain::record(&db, &d).await?;
            print_deployment(&d);
            match chain
                .fund_if_empty(operator, config.chain.operator_funding_wei)
                .await?
            {
                Some(f) => println!(
                    "the operator {} had no ETH: sent {} wei from the deployer (tx {}, gas used {})",
                    f.to, f.amount_wei, f.tx_hash, f.gas_used
                ),
                None => println!(
                    "the operator {operator} holds {} wei (not funded)",
                    chain.balance(operator).await?
                ),
            }
        }
        ContractsCommand::Show => match imo_oracle::chain::deployment(&db, chain_id).await? {
            Some(d) => print_deployment(&d),
            None => bail!(
                "no deployment recorded for chain {chain_id} in {}: run `imo contracts deploy`",
                config.database.redacted_url()
            ),
        },
    }
    Ok(())
}

fn print_deployment(d: &imo_oracle::chain::Deployment) {
    println!(
        "deployment {} on chain {} (complete at block {})",
        d.id,
        d.chain_id,
        d.block_number()
    );
    println!("  ModelRegistry  {}", d.registry);
    println!(
        "  ModelToken     {}  (implementation)",
        d.token_implementation
    );
    println!("  PaymentVault   {}", d.vault);
    println!("  UsageOracle    {}", d.oracle);
    for t in &d.transactions {
        if t.contract == imo_oracle::chain::MODEL_TOKEN {
            continue; // deployed by the registry's constructor, same transaction
        }
        println!(
            "  tx {:<30} gas used {:>9}  block {:>4}  {}",
            t.contract, t.gas_used, t.block_number, t.tx_hash
        );
    }
    println!("  total gas used {}", d.gas_used());
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

async fn balances(command: BalancesCommand) -> anyhow::Result<()> {
    let (server, b) = match command {
        BalancesCommand::Credit {
            address,
            amount_wei,
            server,
        } => {
            let Some(key) = server.key.clone() else {
                bail!("an admin API key is required: pass --key or set IMO_API_KEY")
            };
            let b = Client::new(&server.url)
                .with_key(key)
                .credit(&address, &amount_wei)
                .await?;
            (server, b)
        }
        BalancesCommand::Show { server } => {
            let Some(key) = server.key.clone() else {
                bail!("an API key is required: pass --key or set IMO_API_KEY")
            };
            let b = Client::new(&server.url).with_key(key).balance().await?;
            (server, b)
        }
    };
    let _ = server;
    println!(
        "{}: balance {} wei (reserved {}, spent {}, credited {})",
        b.address, b.balance_wei, b.reserved_wei, b.spent_wei, b.credited_wei
    );
    Ok(())
}

async fn models(command: ModelsCommand) -> anyhow::Result<()> {
    match command {
        ModelsCommand::Register {
            file,
            name,
            price_wei,
            description,
            version,
            server,
        } => {
            let Some(key) = server.key else {
                bail!("an API key is required: pass --key or set IMO_API_KEY")
            };
            let name = match name {
                Some(n) => n,
                None => file
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .context("cannot derive a name from the file")?
                    .to_owned(),
            };
            let f = tokio::fs::File::open(&file)
                .await
                .with_context(|| format!("cannot open {}", file.display()))?;
            let len = f.metadata().await?.len();
            let bar = ProgressBar::new(len).with_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
                )?
                .progress_chars("=> "),
            );
            bar.set_message(format!("uploading {}", file.display()));
            let b = bar.clone();
            let stream =
                tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024).inspect(move |c| {
                    if let Ok(c) = c {
                        b.inc(c.len() as u64);
                    }
                });
            let meta = Upload {
                name,
                price_wei: Some(price_wei),
                description,
                version,
            };
            let client = Client::new(&server.url).with_key(key);
            let result = client
                .upload_model(&meta, reqwest::Body::wrap_stream(stream))
                .await;
            bar.finish_and_clear();
            let (status, model) = result?;
            let verb = if status == reqwest::StatusCode::CREATED {
                "registered"
            } else {
                "already registered"
            };
            println!("{verb}: {} ({})", model.name, model.id);
            println!(
                "  weights_root {}  ({} tensors)",
                model.weights_root, model.tensor_count
            );
            println!(
                "  file_sha256  {}  ({} bytes)",
                model.file_sha256, model.file_size
            );
            for t in &model.inputs {
                println!("  input  {} {} {:?}", t.name, t.datatype, t.shape);
            }
            for t in &model.outputs {
                println!("  output {} {} {:?}", t.name, t.datatype, t.shape);
            }
        }
        ModelsCommand::List { server } => {
            let list = Client::new(&server.url).list_models(&[]).await?;
            for m in list.models {
                println!(
                    "{}  {:<24} {:>24} wei  {}  {}",
                    m.id, m.name, m.price_wei, m.state, m.weights_root
                );
            }
        }
    }
    Ok(())
}
