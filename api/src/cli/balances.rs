//! `imo balances`: credit a client (admin) or show the key's own balance.

use anyhow::bail;
use clap::Subcommand;
use imo_client::Client;

use super::ServerArgs;

#[derive(Subcommand)]
pub(crate) enum BalancesCommand {
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

pub(crate) async fn run(command: BalancesCommand) -> anyhow::Result<()> {
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
