//! The client's side of acknowledged billing from the command line (docs/PROTOCOL.md §4.1):
//! `imo billing show|ack` (the caller's billing mode; choosing `ack` with the client's own key)
//! and `imo acks` (over the client's record of calls, `imo infer --record`: every receipt
//! checked against what was sent and received, the verify report, and with `--send` the
//! acknowledgement of each epoch's checked receipts signed and sent). The checks and signatures
//! are `imo_client::acks::AckBook`'s, the same the Python plugin makes.

use std::{collections::HashMap, path::PathBuf};

use anyhow::{Context, bail};
use imo_client::acks::{AckBook, sign_ack_mode};
use imo_oracle::{
    chain::vault::vault_domain,
    receipts::ReceiptRecord,
    tensor::{Tensor, canonical_hash},
    types::{Address, Wei},
};

use super::{ServerArgs, verify::RecordedCall};

#[derive(clap::Subcommand)]
pub(crate) enum BillingCommand {
    /// The caller's billing mode, credit window, and what was served and acknowledged per epoch.
    Show {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Choose acknowledged billing (one-way), signed with the client's own key.
    Ack {
        /// The client's key (the API key's address).
        #[arg(long, env = "IMO_CLIENT_KEY_FILE", value_name = "FILE")]
        key_file: PathBuf,
        /// The first epoch billed by acknowledgement (default: the current one).
        #[arg(long)]
        from_epoch: Option<u64>,
        /// How long the signature is valid, in seconds.
        #[arg(long, default_value_t = 600)]
        valid_secs: u64,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(clap::Args)]
pub(crate) struct AcksArgs {
    /// The folder of recorded calls (`imo infer --record`).
    #[arg(long, value_name = "DIR")]
    record: PathBuf,
    /// The client's key (the receipts' client).
    #[arg(long, env = "IMO_CLIENT_KEY_FILE", value_name = "FILE")]
    key_file: PathBuf,
    /// Sign and send the acknowledgement of every epoch's checked receipts.
    #[arg(long)]
    send: bool,
    #[command(flatten)]
    server: ServerArgs,
}

fn print_billing(v: &imo_client::dto::BillingView) {
    println!(
        "client {}  mode {}{}  credit window {} wei  outstanding {} wei",
        v.client,
        v.mode,
        v.from_epoch
            .map_or(String::new(), |e| format!(" from epoch {e}")),
        v.credit_window_wei,
        v.outstanding_wei
    );
    for e in &v.epochs {
        println!(
            "  epoch {:>10}  served {:>22} wei ({:>5} calls)  acknowledged {:>22} wei ({:>5} calls)",
            e.epoch, e.served_wei, e.served_calls, e.acked_wei, e.acked_calls
        );
    }
}

pub(crate) async fn billing(command: BillingCommand) -> anyhow::Result<()> {
    match command {
        BillingCommand::Show { server } => {
            print_billing(&server.keyed("the client's")?.billing().await?);
        }
        BillingCommand::Ack {
            key_file,
            from_epoch,
            valid_secs,
            server,
        } => {
            let key = imo_oracle::chain::read_key(&key_file, "client")?;
            let client = server.keyed("the client's")?;
            let view = client.billing().await?;
            let domain = vault_domain(view.chain_id, view.vault.parse()?);
            let from = from_epoch.unwrap_or(view.current_epoch);
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs()
                + valid_secs;
            let sig = sign_ack_mode(&key, &domain, from, deadline)?;
            print_billing(&client.billing_mode(from, deadline, &sig).await?);
        }
    }
    Ok(())
}

/// The tensors of a recorded request's inputs or a response's outputs (same JSON shape).
fn tensors(list: &serde_json::Value, what: &str) -> anyhow::Result<Vec<Tensor>> {
    let body = serde_json::to_vec(&serde_json::json!({ "inputs": list }))?;
    Ok(crate::oip::parse_infer_request(&body, None)
        .map_err(|e| anyhow::anyhow!("{what}: {}", e.message()))?
        .inputs)
}

/// `imo acks`: checks every recorded call's receipt, prints the verify report and, with
/// `--send`, acknowledges each epoch's checked receipts.
pub(crate) async fn acks(args: AcksArgs) -> anyhow::Result<()> {
    let key = imo_oracle::chain::read_key(&args.key_file, "client")?;
    let client = args.server.keyed("the client's")?;
    let op = client.operator().await?;
    let billing = client.billing().await?;
    let mut book = AckBook::new(
        key,
        op.operator.parse::<Address>()?,
        imo_oracle::receipts::domain(op.chain_id, op.verifying_contract.parse()?),
        billing.chain_id,
        billing.vault.parse()?,
    );
    let files = super::verify::recorded_calls(&args.record)?;
    let mut prices: HashMap<String, Wei> = HashMap::new();
    for path in &files {
        let rec: RecordedCall = serde_json::from_slice(&std::fs::read(path)?)
            .with_context(|| format!("{}: not a recorded call", path.display()))?;
        let Some(response) = &rec.response else {
            println!(
                "{}: not checked (recorded without its response)",
                rec.receipt.id
            );
            continue;
        };
        let inputs = tensors(&rec.request["inputs"], "the recorded request")?;
        let outputs = tensors(&response["outputs"], "the recorded response")?;
        let price = match prices.get(&rec.model) {
            Some(p) => *p,
            None => {
                let p: Wei = client.get_model(&rec.model).await?.price_wei.parse()?;
                prices.insert(rec.model.clone(), p);
                p
            }
        };
        let receipt: &ReceiptRecord = &rec.receipt;
        match book.check(
            receipt,
            &hex::encode(canonical_hash(&inputs)),
            &hex::encode(canonical_hash(&outputs)),
            price,
        ) {
            Ok(()) => println!("{}: checked ({} wei)", receipt.id, receipt.price_wei),
            Err(problem) => println!("{}: REFUSED: {problem}", receipt.id),
        }
    }
    if args.send {
        let epochs: Vec<u64> = book.report().epochs.keys().copied().collect();
        for epoch in epochs {
            if let Some(ack) = book.acknowledgement(epoch)? {
                match client.acknowledge(&ack).await {
                    Ok(_) => println!(
                        "epoch {epoch}: acknowledged {} wei for {} calls",
                        ack.amount_wei, ack.calls
                    ),
                    Err(e) => println!("epoch {epoch}: acknowledgement not accepted: {e}"),
                }
            }
        }
    }
    let r = book.report();
    println!(
        "calls {}  receipts checked {}  refused {}  amount checked {} wei  acknowledged {} wei",
        r.calls,
        r.receipts_checked,
        r.receipts_refused,
        r.amount_checked_wei,
        r.amount_acknowledged_wei
    );
    if r.receipts_refused > 0 {
        bail!("{} receipt(s) refused", r.receipts_refused);
    }
    Ok(())
}
