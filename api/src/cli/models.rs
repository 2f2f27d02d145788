//! `imo models`: upload (with a progress bar), list, tokenize, revenue.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use futures_util::StreamExt;
use imo_client::{Client, Upload};
use indicatif::{ProgressBar, ProgressStyle};

use super::ServerArgs;

#[derive(Subcommand)]
pub(crate) enum ModelsCommand {
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

pub(crate) async fn run(command: ModelsCommand) -> anyhow::Result<()> {
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
            let d = &model.dispute;
            match (&d.program_id, &d.blocked_by) {
                (Some(p), _) => println!("  disputable on-chain, program {p}"),
                (None, Some(b)) => println!(
                    "  not disputable: {}{}",
                    b.op.as_ref().map_or(String::new(), |op| format!(
                        "{op} at {}: ",
                        b.node.as_deref().unwrap_or("-")
                    )),
                    b.reason
                ),
                (None, None) => println!("  disputability not assessed yet"),
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
                // The token's state once tokenization was asked for (`tokenizing`, `tokenized`,
                // `failed`), else the registry state.
                let state = match &m.token_state {
                    Some(t) => format!("token:{t}"),
                    None => m.state.clone(),
                };
                println!(
                    "{}  {:<24} {:>24} wei  {:<16}  {}",
                    m.id, m.name, m.price_wei, state, m.weights_root
                );
            }
        }
    }
    Ok(())
}
