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
    /// Your own wallet against the deployed contracts: deposit, authorise spending, withdraw
    /// (clients); transfer, claim, burn model tokens (holders). Contract addresses come from the
    /// server (`GET /v1/contracts`), transactions go to chain.rpc_url.
    Wallet {
        #[command(flatten)]
        wallet: WalletArgs,
        #[command(subcommand)]
        command: WalletCommand,
    },
    /// The operator's on-chain actions and their gas (through a running server, admin key).
    Transactions {
        /// Only this state (pending, sent, mined, final, failed).
        #[arg(long)]
        state: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(clap::Args)]
struct WalletArgs {
    /// A file holding the wallet's secp256k1 key (hex).
    #[arg(long, env = "IMO_WALLET_KEY_FILE", value_name = "FILE")]
    key_file: PathBuf,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Subcommand)]
enum WalletCommand {
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
    /// Register a model on-chain as an ERC-7641 token minted to its publisher.
    Tokenize {
        /// Model name or id.
        model: String,
        /// Token name.
        #[arg(long)]
        token_name: String,
        /// Token symbol (A-Z, 0-9, -).
        #[arg(long)]
        symbol: String,
        /// Supply in whole tokens.
        #[arg(long, default_value = "1000000")]
        supply_tokens: String,
        /// The holders' claimable share of revenue, in basis points.
        #[arg(long, default_value_t = 8000)]
        holders_bps: u32,
        /// Wait until the registration is final.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A model's revenue: what each finalized epoch paid its token, and what is pending.
    Revenue {
        /// Model name or id.
        model: String,
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

fn main() -> anyhow::Result<std::process::ExitCode> {
    // A model worker (started by `imo serve` for each model) runs no runtime and reads no config.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == imo_oracle::sandbox::WORKER_ARG)
    {
        return Ok(imo_oracle::sandbox::worker_main());
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(run())
        .map(|()| std::process::ExitCode::SUCCESS)
}

async fn run() -> anyhow::Result<()> {
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
            let key = imo_oracle::chain::read_key(&out, "operator")?;
            println!("{}", key.address());
        }
        Command::Contracts { command } => contracts(command, &config).await?,
        Command::Transactions { state, server } => {
            let Some(key) = server.key else {
                bail!("an admin API key is required: pass --key or set IMO_API_KEY")
            };
            let list = Client::new(&server.url)
                .with_key(key)
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
        }
        Command::Wallet { wallet, command } => self::wallet(wallet, command, &config).await?,
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

fn wei_arg(s: &str, what: &str) -> anyhow::Result<alloy::primitives::U256> {
    s.trim()
        .parse()
        .with_context(|| format!("{what} `{s}` is not a whole number of wei"))
}

fn tokens_arg(s: &str) -> anyhow::Result<alloy::primitives::U256> {
    let v = alloy::primitives::utils::parse_units(s.trim(), 18)
        .with_context(|| format!("`{s}` is not an amount of tokens (up to 18 decimals)"))?;
    Ok(v.get_absolute())
}

fn print_tx(what: &str, t: &imo_oracle::chain::wallet::Sent) {
    println!(
        "{what}: tx {:#x} in block {}, gas used {}, fee {} wei",
        t.tx_hash, t.block_number, t.gas_used, t.fee_wei
    );
}

async fn wallet(
    args: WalletArgs,
    command: WalletCommand,
    config: &imo_oracle::config::Config,
) -> anyhow::Result<()> {
    use imo_oracle::chain::wallet::{Wallet, sign_spending_cap};
    let key = imo_oracle::chain::read_key(&args.key_file, "wallet")?;
    let server = Client::new(&args.server.url);
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
        "{}: balance {} wei, available {} (reserved {}, spent {}, credited {}, held for withdrawal {}, spending cap {})",
        b.address,
        b.balance_wei,
        b.available_wei,
        b.reserved_wei,
        b.spent_wei,
        b.credited_wei,
        b.held_wei,
        b.cap_wei
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
        ModelsCommand::Tokenize {
            model,
            token_name,
            symbol,
            supply_tokens,
            holders_bps,
            wait,
            server,
        } => {
            let Some(key) = server.key else {
                bail!("the publisher's API key is required: pass --key or set IMO_API_KEY")
            };
            let client = Client::new(&server.url).with_key(key);
            let mut t = client
                .tokenize(&model, &token_name, &symbol, &supply_tokens, holders_bps)
                .await?;
            println!(
                "tokenizing {} as {} ({}), {} base units to {}; transaction {}",
                t.model_id,
                t.name,
                t.symbol,
                t.supply,
                t.publisher,
                t.transaction.as_ref().map_or("-", |x| x.key.as_str())
            );
            while wait && t.state == "tokenizing" {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                t = client.token(&t.model_id).await?;
            }
            let tx = t.transaction.as_ref();
            println!(
                "  state {}  token {}  tx {}  gas used {}",
                t.state,
                t.token_address.as_deref().unwrap_or("-"),
                tx.and_then(|x| x.tx_hash.as_deref()).unwrap_or("-"),
                tx.and_then(|x| x.gas_used)
                    .map_or("-".into(), |g| g.to_string())
            );
            if t.state == "failed" {
                bail!("tokenization failed: {}", t.error.unwrap_or_default());
            }
        }
        ModelsCommand::Revenue { model, server } => {
            let r = Client::new(&server.url).revenue(&model).await?;
            println!(
                "{} (weights {}) token {}: paid {} wei in all",
                r.model_id,
                r.weights_root,
                r.token_address.as_deref().unwrap_or("-"),
                r.total_paid_wei
            );
            for p in &r.paid {
                println!(
                    "  epoch {:>10} round {}  paid {:>22} wei  snapshot {:>3}  tx {}",
                    p.epoch, p.round, p.amount_wei, p.snapshot_id, p.tx_hash
                );
            }
            for p in &r.pending {
                println!(
                    "  epoch {:>10} {:<10} {:>22} wei before fees (pending)",
                    p.epoch, p.state, p.gross_wei
                );
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
