//! Loading the typed config: defaults in code (`imo_oracle::config::Config::default()`), then an
//! optional TOML file, then `IMO_<SECTION>_<KEY>` environment variables, e.g.
//! `IMO_DATABASE_URL`, `IMO_SERVER_BIND`, `IMO_STORAGE_MAX_UPLOAD_BYTES`, `IMO_LOG_FORMAT`.

use std::path::Path;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use imo_oracle::config::Config;

const SECTIONS: [&str; 9] = [
    "server", "database", "storage", "engine", "auth", "metering", "chain", "cluster", "log",
];

/// Maps `IMO_DATABASE_URL` to `database.url`; variables naming no section are not config.
fn env() -> Env {
    Env::prefixed("IMO_")
        .filter(|k| {
            let k = k.as_str().to_ascii_lowercase();
            SECTIONS.iter().any(|s| k.starts_with(&format!("{s}_")))
        })
        .map(|k| {
            let k = k.as_str().to_ascii_lowercase();
            let section = SECTIONS
                .iter()
                .find(|s| k.starts_with(&format!("{s}_")))
                .expect("filtered");
            format!("{section}.{}", &k[section.len() + 1..]).into()
        })
}

/// Builds the config. A named file must exist.
pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = file {
        if !path.exists() {
            return Err(Box::new(figment::Error::from(format!(
                "config file {} does not exist",
                path.display()
            ))));
        }
        fig = fig.merge(Toml::file_exact(path));
    }
    fig.merge(env()).extract().map_err(Box::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure type
    fn layers_defaults_file_env() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "imo.toml",
                "[database]\nurl = \"sqlite://from-file.db\"\n[storage]\nmax_upload_bytes = 10\n",
            )?;
            jail.set_env("IMO_STORAGE_MAX_UPLOAD_BYTES", "20");
            jail.set_env("IMO_API_KEY", "not-config");
            let cfg = load(Some(Path::new("imo.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(cfg.database.url, "sqlite://from-file.db");
            assert_eq!(cfg.storage.max_upload_bytes, 20);
            assert_eq!(cfg.server, imo_oracle::config::ServerConfig::default());
            assert!(load(Some(Path::new("missing.toml"))).is_err());
            assert_eq!(cfg.chain, imo_oracle::config::ChainConfig::default());
            jail.set_env("IMO_CHAIN_RPC_URL", "http://127.0.0.1:9545");
            jail.set_env("IMO_CHAIN_ATTEST_BOND_WEI", "20000000000000000000");
            jail.set_env("IMO_CHAIN_CHALLENGE_BOND_WEI", "5");
            let cfg = load(None).map_err(|e| e.to_string())?;
            assert_eq!(cfg.chain.rpc_url, "http://127.0.0.1:9545");
            assert_eq!(cfg.chain.attest_bond_wei, 20_000_000_000_000_000_000);
            assert_eq!(cfg.chain.challenge_bond_wei, 5);
            jail.set_env("IMO_DATABASE_NOPE", "1");
            assert!(load(None).is_err(), "unknown keys are rejected");
            Ok(())
        });
    }
}
