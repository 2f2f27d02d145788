//! `imo infer` (one call, optionally recorded for verification) and `imo verify` (re-execute
//! recorded calls with the reference interpreter and challenge wrong outputs on-chain; the
//! domain side is `imo_oracle::chain::challenger`, docs/PROTOCOL.md §9.7).
//!
//! **The record** is how inputs reach a verifier: a folder with one JSON file per call,
//! `<receipt id>.json` = `{"model": name, "request": <the Open Inference Protocol request as
//! sent, JSON>, "receipt": <the receipt from the response's parameters.imo_receipt>}`. `imo
//! infer --record DIR` writes it; any client (the Python tritonclient, a browser) can write the
//! same file, and a client that wants a watchtower to check its calls hands it (or syncs the
//! folder to) that watchtower — the input never has to reach the chain unless a game is opened.
//! `imo verify` writes `<receipt id>.verdict.json` next to each call it checked and skips calls
//! that have one, so it can run repeatedly over a growing folder.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use alloy::primitives::{Address as EthAddress, B256, U256};
use anyhow::{Context, bail};
use imo_oracle::{
    chain::challenger::{self, Challenger, Check, Turn},
    judge::{Program, game::Winner},
    receipts::ReceiptRecord,
};
use serde::{Deserialize, Serialize};

use super::ServerArgs;

/// One recorded call.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RecordedCall {
    pub(crate) model: String,
    pub(crate) request: serde_json::Value,
    pub(crate) receipt: ReceiptRecord,
    /// The response as received (its outputs), for the client's own receipt checks (`imo
    /// acks`); absent in records written by other tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) response: Option<serde_json::Value>,
}

#[derive(clap::Args)]
pub(crate) struct InferArgs {
    /// The model's name.
    model: String,
    /// The request body (Open Inference Protocol JSON), a file or `-` for stdin.
    #[arg(long, value_name = "FILE")]
    body: PathBuf,
    /// Keep the request and its receipt in this folder for `imo verify`.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
}

/// `imo infer`: one metered call; prints the response.
pub(crate) async fn infer(args: InferArgs) -> anyhow::Result<()> {
    let body = if args.body.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(&args.body)
            .with_context(|| format!("reading {}", args.body.display()))?
    };
    let request: serde_json::Value = serde_json::from_str(&body).context("the body is not JSON")?;
    let client = args.server.keyed("a client")?;
    let (status, resp) = client.infer_json(&args.model, &request).await?;
    println!("{}", serde_json::to_string_pretty(&resp)?);
    if !status.is_success() {
        bail!("the call failed with {status}");
    }
    if let Some(dir) = args.record {
        let receipt: ReceiptRecord = resp["parameters"]["imo_receipt"]
            .as_str()
            .context("the response has no parameters.imo_receipt")
            .and_then(|s| serde_json::from_str(s).context("the receipt does not parse"))?;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{}.json", receipt.id));
        let rec = RecordedCall {
            model: args.model,
            request,
            receipt,
            response: Some(resp.clone()),
        };
        std::fs::write(&path, serde_json::to_vec_pretty(&rec)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("recorded {}", path.display());
    }
    Ok(())
}

#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// The folder of recorded calls (`imo infer --record`).
    #[arg(long, value_name = "DIR")]
    record: PathBuf,
    /// A model file to verify its calls with, as NAME=FILE (repeat for more models). Its
    /// weights root must be the receipts' `model`.
    #[arg(long = "model", value_name = "NAME=FILE", required = true)]
    models: Vec<String>,
    /// The verifier's key (it pays the bonds and receives what games win).
    #[arg(long, env = "IMO_VERIFY_KEY_FILE", value_name = "FILE")]
    key_file: PathBuf,
    /// JSON-RPC endpoint (default: chain.rpc_url of the configuration).
    #[arg(long)]
    rpc_url: Option<String>,
    /// The InferenceDispute address (default: the server's `GET /v1/contracts`).
    #[arg(long)]
    dispute: Option<String>,
    /// Fraction of calls to check, 0 to 1 (a call is in the sample by its receipt id, so
    /// repeated runs agree).
    #[arg(long, default_value_t = 1.0)]
    sample_rate: f64,
    /// Wei the verifier may have at stake in bonds at once; a wrong call found beyond it waits
    /// for the next run.
    #[arg(long, default_value = "100000000000000000")]
    bond_budget_wei: String,
    /// Games played at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// How long to play each game before leaving it for the next run, in seconds.
    #[arg(long, default_value_t = 3600)]
    game_secs: u64,
    /// Milliseconds between reads of a game while the operator moves.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    /// Write the run's Prometheus metrics here at the end (text format, e.g. for node_exporter's
    /// textfile collector): games opened/won/lost, bonds at stake, moves, re-execution time.
    #[arg(long, value_name = "FILE")]
    metrics_file: Option<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
}

/// What `imo verify` concluded about one call (`<receipt id>.verdict.json`).
#[derive(Debug, Serialize)]
struct Verdict {
    receipt: String,
    /// `correct`, `unjudgeable`, `won`, `lost`, `undecided` (the game outlasted --game-secs).
    outcome: &'static str,
    detail: Option<String>,
    game: Option<String>,
    moves: Vec<(&'static str, u64)>,
}

fn in_sample(receipt_id: &str, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    let h = alloy::primitives::keccak256(receipt_id.as_bytes());
    let x = u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) as f64 / u64::MAX as f64;
    x < rate
}

/// `imo verify`.
pub(crate) async fn verify(
    args: VerifyArgs,
    config: &imo_oracle::config::Config,
) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&args.sample_rate) {
        bail!("--sample-rate must be between 0 and 1");
    }
    let budget: U256 = super::wallet::wei_arg(&args.bond_budget_wei, "--bond-budget-wei")?;
    let metrics = args
        .metrics_file
        .as_ref()
        .map(|_| crate::server::metrics_handle());
    let mut programs: Vec<(String, B256, Arc<Program>)> = Vec::new();
    for m in &args.models {
        let (name, file) = m
            .split_once('=')
            .with_context(|| format!("--model `{m}` is not NAME=FILE"))?;
        let path = Path::new(file);
        let root = B256::from(
            imo_oracle::onnx::scan_model(path)
                .with_context(|| format!("reading {file}"))?
                .weights_root,
        );
        let program = Program::from_file(path)
            .with_context(|| format!("{file} cannot be judged (docs/PROTOCOL.md §9.1)"))?;
        programs.push((name.to_owned(), root, Arc::new(program)));
    }
    let dispute: EthAddress = match &args.dispute {
        Some(a) => a.parse().context("--dispute is not an address")?,
        None => imo_client::Client::new(&args.server.url)
            .contracts()
            .await
            .context("reading the contracts from the server (or pass --dispute)")?
            .inference_dispute
            .context("the server's deployment has no InferenceDispute")?
            .parse()
            .context("the server's InferenceDispute address")?,
    };
    let rpc = args.rpc_url.clone().unwrap_or(config.chain.rpc_url.clone());
    let key = imo_oracle::chain::read_key(&args.key_file, "verifier")?;
    let ch = Challenger::connect(&rpc, key, dispute).await?;
    println!(
        "verifier {} on InferenceDispute {dispute} (bond {} wei, budget {budget} wei)",
        ch.address(),
        ch.bond()
    );

    let files = recorded_calls(&args.record)?;
    let sem = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let mut games = tokio::task::JoinSet::new();
    let mut at_stake = U256::ZERO;
    let (mut checked, mut correct) = (0usize, 0usize);
    for path in files {
        let verdict_path = path.with_extension("verdict.json");
        if verdict_path.exists() {
            continue;
        }
        let rec: RecordedCall = serde_json::from_slice(&std::fs::read(&path)?)
            .with_context(|| format!("{} is not a recorded call", path.display()))?;
        if !in_sample(&rec.receipt.id, args.sample_rate) {
            continue;
        }
        let write = |v: &Verdict| -> anyhow::Result<()> {
            std::fs::write(&verdict_path, serde_json::to_vec_pretty(v)?)?;
            Ok(())
        };
        let receipt = rec.receipt.typed()?;
        let Some((_, _, program)) = programs
            .iter()
            .find(|(n, root, _)| *n == rec.model && *root == receipt.model)
        else {
            println!(
                "{}: skipped (no --model {} with the receipt's weights root)",
                rec.receipt.id, rec.model
            );
            continue;
        };
        let body = serde_json::to_vec(&rec.request)?;
        let request = crate::oip::parse_infer_request(&body, None).map_err(|e| {
            anyhow::anyhow!("{}: the recorded request: {}", path.display(), e.message())
        })?;
        let wanted: Vec<String> = request.outputs.iter().map(|o| o.name.clone()).collect();
        checked += 1;
        let started = std::time::Instant::now();
        let check = challenger::check(program.clone(), &receipt, &request.inputs, &wanted);
        metrics::histogram!("imo_verify_reexecution_seconds")
            .record(started.elapsed().as_secs_f64());
        match check {
            Check::Correct => {
                correct += 1;
                println!(
                    "{}: correct (re-executed in {:.1} ms)",
                    rec.receipt.id,
                    started.elapsed().as_secs_f64() * 1e3
                );
                write(&Verdict {
                    receipt: rec.receipt.id.clone(),
                    outcome: "correct",
                    detail: None,
                    game: None,
                    moves: vec![],
                })?;
            }
            Check::Unjudgeable(why) => {
                println!("{}: not judged: {why}", rec.receipt.id);
                write(&Verdict {
                    receipt: rec.receipt.id.clone(),
                    outcome: "unjudgeable",
                    detail: Some(why),
                    game: None,
                    moves: vec![],
                })?;
            }
            Check::Wrong {
                trace,
                wanted,
                claimed,
            } => {
                if at_stake + ch.bond() > budget {
                    println!(
                        "{}: WRONG output, but the bond budget is spent; left for the next run",
                        rec.receipt.id
                    );
                    continue;
                }
                at_stake += ch.bond();
                metrics::gauge!("imo_verify_bonds_at_stake_wei")
                    .set(at_stake.to_string().parse::<f64>().unwrap_or(f64::MAX));
                metrics::gauge!("imo_verify_games_open").increment(1.0);
                println!(
                    "{}: WRONG output (receipt {}, reference {claimed}): opening a game",
                    rec.receipt.id, receipt.outputHash
                );
                let sig = hex::decode(rec.receipt.signature.trim_start_matches("0x"))
                    .context("the receipt's signature is not hex")?;
                let (ch, sem) = (ch.clone(), sem.clone());
                let (poll, limit) = (
                    Duration::from_millis(args.poll_ms),
                    Duration::from_secs(args.game_secs),
                );
                let id_str = rec.receipt.id.clone();
                games.spawn(async move {
                    let _slot = sem.acquire_owned().await.expect("never closed");
                    let v =
                        play_one(&ch, &receipt, &sig, &trace, &wanted, claimed, poll, limit).await;
                    (id_str, verdict_path, v)
                });
            }
        }
    }
    let (mut won, mut lost) = (0usize, 0usize);
    while let Some(done) = games.join_next().await {
        let (id, verdict_path, v) = done?;
        let mut v = v.unwrap_or_else(|e| Verdict {
            receipt: id.clone(),
            outcome: "undecided",
            detail: Some(e.to_string()),
            game: None,
            moves: vec![],
        });
        v.receipt = id.clone();
        match v.outcome {
            "won" => won += 1,
            "lost" => lost += 1,
            _ => {}
        }
        metrics::gauge!("imo_verify_games_open").decrement(1.0);
        metrics::counter!("imo_verify_games_total", "outcome" => v.outcome).increment(1);
        println!(
            "{id}: game {} — {}{}",
            v.game.as_deref().unwrap_or("-"),
            v.outcome,
            v.detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
        if v.outcome != "undecided" {
            std::fs::write(&verdict_path, serde_json::to_vec_pretty(&v)?)?;
        }
    }
    let withdrawn = ch.withdraw().await?;
    metrics::gauge!("imo_verify_bonds_at_stake_wei").set(0.0);
    metrics::counter!("imo_verify_calls_checked_total").increment(checked as u64);
    println!(
        "checked {checked} call(s): {correct} correct; games won {won}, lost {lost}; withdrew {withdrawn} wei of credits"
    );
    if let (Some(path), Some(handle)) = (&args.metrics_file, metrics) {
        std::fs::write(path, handle.render())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn play_one(
    ch: &Challenger,
    receipt: &imo_oracle::receipts::Receipt,
    sig: &[u8],
    trace: &imo_oracle::judge::Trace,
    wanted: &[String],
    claimed: B256,
    poll: Duration,
    limit: Duration,
) -> anyhow::Result<Verdict> {
    let (id, gas) = ch.open(receipt, sig, trace, claimed).await?;
    println!("  game {id}: open  gas {gas}");
    let mut moves = vec![("open", gas)];
    let deadline = tokio::time::Instant::now() + limit;
    let outcome = loop {
        match ch.turn(id, trace, wanted).await? {
            Turn::Moved { name, gas } => {
                println!("  game {id}: {name:<12} gas {gas}");
                moves.push((name, gas));
            }
            Turn::Over(Winner::Challenger) => break "won",
            Turn::Over(Winner::Operator) => break "lost",
            Turn::Stuck(reason) => {
                // Never happens against a wrong output; logged and left to the clock.
                println!("  game {id}: no winning move: {reason}");
                break "lost";
            }
            Turn::Waiting => {
                if tokio::time::Instant::now() >= deadline {
                    break "undecided";
                }
                tokio::time::sleep(poll).await;
            }
        }
    };
    if outcome == "won" {
        println!(
            "  game {id}: won — the operator's bond is slashed and the client {} is refunded {} wei",
            receipt.client, receipt.price
        );
    }
    Ok(Verdict {
        receipt: String::new(),
        outcome,
        detail: None,
        game: Some(format!("{id:#x}")),
        moves,
    })
}

/// The recorded calls in `dir` (`imo infer --record`: one JSON file a call, verdicts aside), in
/// file name order: receipt ids are ULIDs, so time order.
pub(super) fn recorded_calls(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.to_string_lossy().ends_with(".verdict.json")
        })
        .collect();
    files.sort();
    Ok(files)
}
