//! `imo contracts`: deploy the suite and show the recorded deployment.

use anyhow::bail;
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum ContractsCommand {
    /// Deploy and wire ModelRegistry, PaymentVault and UsageOracle with the deployer key
    /// (chain.deployer_key_file) as admin and the operator key (metering.operator_key_file) as
    /// OPERATOR_ROLE; record the addresses in the database; fund the operator if it has no ETH.
    Deploy,
    /// Print the latest recorded deployment on chain.chain_id.
    Show,
}

pub(crate) async fn run(
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
            let d = chain
                .deploy(
                    operator,
                    imo_oracle::clock::Clock::now_ms(&imo_oracle::clock::SystemClock),
                )
                .await?;
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

pub(crate) fn print_deployment(d: &imo_oracle::chain::Deployment) {
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
    if let (Some(judge), Some(game)) = (d.judge, d.dispute) {
        println!("  JudgeVM        {judge}");
        println!("  InferenceDispute {game}");
    }
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
