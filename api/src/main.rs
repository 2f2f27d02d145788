//! `imo`: the imo-oracle command line (`imo_api::cli`). A model worker (`imo __model-worker`,
//! started by `imo serve` for each model) runs no async runtime and reads no config.

use anyhow::Context;
use clap::Parser;

fn main() -> anyhow::Result<std::process::ExitCode> {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == imo_oracle::sandbox::WORKER_ARG)
    {
        return Ok(imo_oracle::sandbox::worker_main());
    }
    let cli = imo_api::cli::Cli::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(imo_api::cli::run(cli))
        .map(|()| std::process::ExitCode::SUCCESS)
}
