//! Test harness: a real server on port 0 over a fresh database (SQLite file or a new
//! PostgreSQL database), real ONNX Runtime, and the typed client.

use std::{
    io::{BufRead, BufReader},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    sync::mpsc,
    time::Duration,
};

use alloy::providers::ProviderBuilder;
// What every chain test names: wallets, providers, signing.
pub use alloy::{
    providers::{DynProvider, Provider},
    signers::{SignerSync, local::PrivateKeySigner},
};
use imo_client::Client;
use imo_oracle::{Oracle, clock::ManualClock, config::Config};
use sea_orm::{ConnectionTrait, Database};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub use imo_e2e::repo_root;

/// A model file installed by `scripts/install-tools.sh models`.
pub fn model(name: &str) -> PathBuf {
    let p = repo_root().join(".tools/models").join(name);
    assert!(
        p.exists(),
        "{} is missing: run `scripts/install-tools.sh` (or `make test`) first",
        p.display()
    );
    p
}

pub fn model_bytes(name: &str) -> Vec<u8> {
    std::fs::read(model(name)).expect("model readable")
}

/// Asserts an error answer: its status and its code in our error format (`what` in the
/// messages).
pub async fn assert_error(
    resp: reqwest::Response,
    status: reqwest::StatusCode,
    code: &str,
    what: &str,
) {
    assert_eq!(resp.status(), status, "{what}");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{what}");
}

/// A connection to the service's database at `url` (the default pool).
pub async fn connect_db(url: &str) -> sea_orm::DatabaseConnection {
    imo_oracle::db::connect(&imo_oracle::config::DatabaseConfig {
        url: url.to_owned(),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// Uploads the model file `file` as `name` at `price` wei a call, with the typed client of a
/// publisher: the model as stored.
pub async fn upload(
    publisher: &Client,
    file: &str,
    name: &str,
    price: u128,
) -> imo_client::dto::ModelView {
    let meta = imo_client::Upload {
        name: name.into(),
        price_wei: Some(price.to_string()),
        ..Default::default()
    };
    publisher
        .upload_model(&meta, model_bytes(file))
        .await
        .expect("register model")
        .1
}

/// Runs one of the Python checks to its end: its standard output; a panic with both outputs if
/// it failed.
pub async fn python_check(mut command: tokio::process::Command, what: &str) -> String {
    let out = command.output().await.unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{what} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

fn postgres_admin_url() -> String {
    std::env::var("IMO_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The service as `imo serve` builds it ([`imo_api::app::App`]), on a fresh database and a
/// [`ManualClock`] the test moves (receipts' times and epochs follow it).
pub struct TestServer {
    pub app: Option<imo_api::app::App>,
    pub url: String,
    pub oracle: Oracle,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    pub pg_db: Option<String>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a server on a fresh database; `tweak` adjusts the config first.
    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = Config::default();
        cfg.server.bind = "127.0.0.1:0".parse().unwrap();
        cfg.server.grpc_bind = "127.0.0.1:0".parse().unwrap();
        cfg.server.workers = 2;
        cfg.storage.models_dir = dir.path().join("models");
        cfg.engine.ort_library = repo_root().join(".tools/onnxruntime/libonnxruntime.so");
        cfg.engine.worker_binary = Some(imo_binary());
        cfg.auth.siwe_domain = "imo.test".into();
        cfg.auth.admin_addresses = vec![admin_signer().address().to_string()];
        cfg.metering.operator_key = Some(OPERATOR_KEY.into());
        let (url, pg_db) = fresh_database(backend, dir.path()).await;
        cfg.database.url = url;
        let key_file = dir.path().join("deployer.key");
        std::fs::write(&key_file, format!("{ANVIL_KEY_0}\n")).expect("write deployer key");
        cfg.chain.deployer_key_file = Some(key_file);
        cfg.chain.jobs = vec![]; // tests run each pass themselves, unless they ask for jobs
        tweak(&mut cfg);
        let clock = ManualClock::starting_now();
        if cfg.chain.enabled {
            // The chain loop needs a recorded deployment before the service starts, as
            // `imo contracts deploy` leaves one.
            let db = imo_oracle::db::connect(&cfg.database)
                .await
                .expect("connect");
            imo_oracle::db::migrate(&db).await.expect("migrate");
            let operator: PrivateKeySigner = OPERATOR_KEY.parse().unwrap();
            // Deployed with one confirmation: anvil automines, so a test asking for more
            // confirmations mines them itself.
            let mut deploy_cfg = cfg.chain.clone();
            deploy_cfg.confirmations = 1;
            imo_oracle::chain::deploy(
                &deploy_cfg,
                imo_oracle::types::Address(operator.address()),
                &db,
                clock.as_ref(),
            )
            .await
            .expect("deploy the contracts to anvil");
            db.close().await.ok();
        }
        let app = imo_api::app::App::build(cfg, clock.clone())
            .await
            .expect("the service starts");
        let url = app.url();
        Self {
            oracle: app.oracle.clone(),
            app: Some(app),
            url,
            clock,
            dir,
            pg_db,
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    /// `host:port` of the Open Inference Protocol over gRPC.
    pub fn grpc_addr(&self) -> String {
        self.app
            .as_ref()
            .and_then(|a| a.grpc_addr)
            .expect("the gRPC server runs")
            .to_string()
    }

    /// Creates a key directly through the domain (as `imo keys create` does).
    pub async fn key(&self, signer: &PrivateKeySigner, role: &str) -> Client {
        self.client()
            .with_key(self.key_secret(signer, role, "test").await)
    }

    /// Creates a key labelled `label` directly through the domain: its secret.
    pub async fn key_secret(&self, signer: &PrivateKeySigner, role: &str, label: &str) -> String {
        let address = signer.address().to_string().parse().unwrap();
        let label = imo_oracle::types::BoundedText::parse("label", label, 200).unwrap();
        self.oracle
            .auth
            .create_key(address, role.parse().unwrap(), label)
            .await
            .expect("create key")
            .secret
    }

    /// Files under the model store, excluding the staging directory.
    pub fn stored_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out)
                } else {
                    out.push(p)
                }
            }
        }
        let mut out = vec![];
        walk(&self.dir.path().join("models"), &mut out);
        out
    }

    pub async fn row_count(&self, table: &str) -> i64 {
        let row = self
            .oracle
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.oracle.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count query")
            .expect("one row");
        row.try_get::<i64>("", "n").expect("count")
    }

    /// Stops the service in order and drops the PostgreSQL database.
    pub async fn finish(mut self) {
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
        if let Some(name) = self.pg_db.take() {
            drop_database(&name).await;
        }
    }
}

/// Waits until `check` yields a value (asked again every 20 ms), at most `within`; panics naming
/// `what` when it never does. For conditions only a query can see (a lease lapsing in database
/// time, a background re-assessment, a game's turn).
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tick.tick().await;
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
    }
}

/// The `imo` binary next to the test executable (`make test` builds it first).
pub fn imo_binary() -> PathBuf {
    // target/<profile>/deps/<test> -> target/<profile>/imo
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(|d| d.parent()).unwrap().join("imo");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build --bin imo` (make test does)",
        bin.display()
    );
    bin
}

/// The environment of an `imo` process over `db_url`, with its models under `dir`: port 0,
/// JSON logs, the test operator key, ONNX Runtime from `.tools/`.
pub fn binary_env(dir: &Path, db_url: &str) -> Vec<(String, String)> {
    imo_e2e::binary_env(dir, db_url, OPERATOR_KEY)
}

/// [`binary_env`] over a new SQLite file in `dir`.
pub fn sqlite_env(dir: &Path) -> Vec<(String, String)> {
    binary_env(
        dir,
        &format!("sqlite://{}?mode=rwc", dir.join("imo.db").display()),
    )
}

/// Runs an `imo` subcommand to completion; its stdout.
pub fn run_imo(env: &[(String, String)], args: &[&str]) -> String {
    imo_e2e::run_binary(&imo_binary(), env, args)
}

/// `imo keys create --address <signer> --role <role> --quiet`: the new API key.
pub fn cli_key(env: &[(String, String)], who: &PrivateKeySigner, role: &str) -> String {
    imo_e2e::create_key(&imo_binary(), env, &who.address().to_string(), role)
}

/// A running `imo serve` (the real binary). Its JSON log is read as it comes: the address it
/// listens on, and every line counted, so that a test waits for the service to say something
/// instead of sleeping; the lines are kept for failure messages.
pub struct ImoProcess {
    child: tokio::process::Child,
    pub url: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    lines: tokio::sync::watch::Receiver<usize>,
}

impl ImoProcess {
    /// `imo serve` with `env` and `extra`; returns once it reports its address.
    pub async fn serve(env: &[(String, String)], extra: &[(&str, &str)]) -> Self {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (child, mut reader, url) = imo_e2e::serve_binary(&imo_binary(), env, extra, &log).await;
        let (count, lines) = tokio::sync::watch::channel(0usize);
        // Keep draining (a full pipe would block the server) and count the lines.
        let keep = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = reader.next_line().await {
                keep.lock().unwrap().push(line);
                count.send_modify(|n| *n += 1);
            }
        });
        Self {
            child,
            url,
            log,
            lines,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    pub fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(40)..].join("\n")
    }

    /// Waits until `cond` holds, checking it again after each line the service logs (its jobs
    /// log what they did, after doing it), at most `secs`.
    pub async fn until<F, Fut>(&mut self, what: &str, secs: u64, mut cond: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            self.lines.borrow_and_update();
            if cond().await {
                return;
            }
            match tokio::time::timeout_at(deadline, self.lines.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => panic!(
                    "the service stopped logging (exited?) while waiting for {what}:\n{}",
                    self.log_tail()
                ),
                Err(_) => panic!(
                    "timed out after {secs} s waiting for {what}:\n{}",
                    self.log_tail()
                ),
            }
        }
    }

    /// Tokenizes model `id` (1,000,000 tokens, 80 % to the holders) and waits until the
    /// service's own jobs have made its token final.
    pub async fn tokenized(&mut self, publisher: &Client, id: &str, name: &str, symbol: &str) {
        publisher
            .tokenize(id, name, symbol, "1000000", 8000)
            .await
            .unwrap();
        self.until("the model is tokenized", 30, || {
            let (api, id) = (publisher.clone(), id.to_owned());
            async move { api.token(&id).await.is_ok_and(|t| t.state == "tokenized") }
        })
        .await;
    }

    /// Waits for the process to exit.
    pub async fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait().await
    }

    /// SIGTERM; asserts a clean exit within 20 s.
    pub async fn stop(mut self) {
        let term = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the service stops within 20 s of SIGTERM")
            .unwrap();
        assert!(status.success(), "clean exit after SIGTERM: {status}");
    }
}

/// A new empty database: a SQLite file in `dir`, or a new PostgreSQL database (its name is
/// returned for [`drop_database`]).
pub async fn fresh_database(backend: Backend, dir: &Path) -> (String, Option<String>) {
    match backend {
        Backend::Sqlite => (
            format!("sqlite://{}?mode=rwc", dir.join("imo.db").display()),
            None,
        ),
        Backend::Postgres => {
            let admin = postgres_admin_url();
            let name = format!("imo_test_{}", ulid::Ulid::new().to_string().to_lowercase());
            let conn = Database::connect(&admin).await.unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is not reachable at {admin} ({e}). Start it (`pg_ctlcluster 15 main start`) \
                     or point IMO_TEST_POSTGRES_URL at a server where user may CREATE DATABASE."
                )
            });
            conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            conn.close().await.ok();
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_owned())
                .unwrap_or(admin);
            (format!("{base}/{name}"), Some(name))
        }
    }
}

pub async fn drop_database(name: &str) {
    if let Ok(conn) = Database::connect(&postgres_admin_url()).await {
        let _ = conn
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

/// The operator key the test servers sign receipts with (anvil's dev account 9).
pub const OPERATOR_KEY: &str = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6";

impl TestServer {
    /// Credits `address` through the ledger (as the admin endpoint does).
    pub async fn credit(&self, signer: &PrivateKeySigner, wei: u128) {
        let address = signer.address().to_string().parse().unwrap();
        self.oracle
            .inference
            .ledger()
            .credit(address, imo_oracle::types::Wei(wei), "test")
            .await
            .expect("credit");
    }

    /// Uploads a model from `.tools/models` as `name` with a price, returning its record.
    pub async fn register(
        &self,
        publisher: &Client,
        file: &str,
        name: &str,
        price_wei: u128,
    ) -> imo_client::dto::ModelView {
        upload(publisher, file, name, price_wei).await
    }
}

/// Through the service at `base`: tiny_mlp registered as `tiny` at `price` wei a call with
/// `publisher_key`, and each of `clients` (addresses) credited `credit` wei with `admin_key`.
pub async fn tiny_and_credits(
    base: &Client,
    publisher_key: String,
    admin_key: &str,
    clients: impl IntoIterator<Item = String>,
    price: u128,
    credit: u128,
) {
    upload(
        &base.with_key(publisher_key),
        "tiny_mlp.onnx",
        "tiny",
        price,
    )
    .await;
    for address in clients {
        base.with_key(admin_key.to_owned())
            .credit(&address, &credit.to_string())
            .await
            .unwrap();
    }
}

/// An upload of tiny_mlp as `x` by `api` that must fail: its error.
pub async fn refused_upload(api: &Client) -> imo_client::ClientError {
    api.upload_model(
        &imo_client::Upload::named("x"),
        model_bytes("tiny_mlp.onnx"),
    )
    .await
    .unwrap_err()
}

/// The body of a call to tiny-mlp (`[[1, 2, 3, 4]]`).
pub fn infer_body() -> serde_json::Value {
    serde_json::json!({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]})
}

/// The receipt in a metered answer's parameters.
pub fn receipt_of(body: &serde_json::Value) -> imo_oracle::receipts::ReceiptRecord {
    serde_json::from_str(body["parameters"]["imo_receipt"].as_str().unwrap()).unwrap()
}

/// One metered call of tiny-mlp ([`infer_body`]) by `api`, which must succeed: its receipt.
pub async fn metered_call(api: &Client) -> imo_oracle::receipts::ReceiptRecord {
    let (status, body) = api.infer_json("tiny-mlp", &infer_body()).await.unwrap();
    assert_eq!(status.as_u16(), 200, "{body}");
    receipt_of(&body)
}

/// Whether every one of `epochs` is in `state`, as `api` reports it.
pub async fn epochs_in(api: &Client, epochs: &[u64], state: &str) -> bool {
    for e in epochs {
        match api.epoch(*e).await {
            Ok(v) if v.state == state => {}
            _ => return false,
        }
    }
    true
}

/// Deterministic test wallets.
pub fn signer(n: u8) -> PrivateKeySigner {
    let mut k = [0u8; 32];
    k[31] = n;
    k[0] = 0x11;
    PrivateKeySigner::from_slice(&k).expect("valid key")
}

pub fn admin_signer() -> PrivateKeySigner {
    signer(200)
}

/// An EIP-4361 message as a wallet would build it.
pub fn siwe_message(domain: &str, address: &str, nonce: &str, chain_id: u64) -> String {
    let issued = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    format!(
        "{domain} wants you to sign in with your Ethereum account:\n{address}\n\nSign in to imo-oracle.\n\n\
         URI: https://{domain}/login\nVersion: 1\nChain ID: {chain_id}\nNonce: {nonce}\nIssued At: {issued}"
    )
}

pub fn sign(signer: &PrivateKeySigner, message: &str) -> String {
    let sig = signer.sign_message_sync(message.as_bytes()).expect("sign");
    format!("0x{}", hex::encode(sig.as_bytes()))
}

/// Signs in at `api` (`POST /v1/auth/siwe`) with `message` signed by `wallet`, asking for `role`.
pub async fn sign_in_with(
    api: &Client,
    wallet: &PrivateKeySigner,
    message: &str,
    role: &str,
) -> Result<imo_client::dto::IssuedKeyView, imo_client::ClientError> {
    api.sign_in(message, &sign(wallet, message), role).await
}

/// Runs an async test body once per backend.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::helpers::Backend::Postgres).await } )*
        }
    };
}

/// Async tests each in a module of its own (`$module::$test`), running `super::$body(args)`:
/// tests named apart from their bodies, or on one backend only.
#[macro_export]
macro_rules! tests_in {
    ($($module:ident::$test:ident => $body:ident($($arg:expr),* $(,)?);)*) => {$(
        mod $module {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$body($($arg),*).await
            }
        }
    )*};
}

/// Sends a contract call and waits for its receipt (mined; the caller checks `status()`).
pub async fn mined<P, D>(
    call: alloy::contract::CallBuilder<P, D>,
) -> alloy::rpc::types::TransactionReceipt
where
    P: alloy::providers::Provider,
    D: alloy::contract::CallDecoder,
{
    call.send().await.unwrap().get_receipt().await.unwrap()
}

/// anvil's first dev key (public): the deployer and admin in chain tests.
pub const ANVIL_KEY_0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const CHAIN_ID: u64 = 31337;

/// A provider for the RPC at `url` that signs with `signer`.
pub fn wallet_at(url: &str, signer: &PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(signer.clone()))
        .connect_http(url.parse().unwrap())
        .erased()
}

/// A real anvil from `.tools/bin/anvil` on a port it picks itself; killed on drop. The npm
/// launcher runs the binary as its child, so both run in their own process group and the whole
/// group is killed.
pub struct Anvil {
    child: Child,
    pub url: String,
}

impl Anvil {
    pub async fn spawn() -> Self {
        let bin = repo_root().join(".tools/bin/anvil");
        assert!(
            bin.exists(),
            "{} is missing: run `scripts/install-tools.sh npm` (or `make tools`) first",
            bin.display()
        );
        let mut child = Command::new(&bin)
            .process_group(0)
            .args(["--host", "127.0.0.1", "--port", "0", "--chain-id"])
            .arg(CHAIN_ID.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        // anvil prints "Listening on 127.0.0.1:<port>"; keep draining its output afterwards so
        // that a full pipe never blocks it.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.trim().strip_prefix("Listening on ") {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let mut anvil = Self {
            child,
            url: String::new(),
        };
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("anvil did not print its listening address within 30 s");
        anvil.url = format!("http://{addr}");
        // anvil prints "Listening on" once its socket is bound: it answers from here on.
        let provider = ProviderBuilder::new().connect_http(anvil.url.parse().unwrap());
        let id = provider
            .get_chain_id()
            .await
            .unwrap_or_else(|e| panic!("anvil at {} is not answering eth_chainId: {e}", anvil.url));
        assert_eq!(id, CHAIN_ID);
        anvil
    }

    /// A provider that signs with `signer` (a new one: its nonce filler starts from the chain).
    pub fn wallet(&self, signer: &PrivateKeySigner) -> DynProvider {
        wallet_at(&self.url, signer)
    }

    pub fn provider(&self) -> DynProvider {
        ProviderBuilder::new()
            .connect_http(self.url.parse().unwrap())
            .erased()
    }

    /// Sets the balance of `who` (`anvil_setBalance`).
    pub async fn set_balance(&self, who: alloy::primitives::Address, wei: alloy::primitives::U256) {
        self.rpc(
            "anvil_setBalance",
            serde_json::json!([who, format!("{wei:#x}")]),
        )
        .await;
    }

    /// Calls one of anvil's JSON-RPC methods (`evm_increaseTime`, `evm_mine`, `anvil_reorg`…).
    pub async fn rpc(&self, method: &'static str, params: serde_json::Value) -> serde_json::Value {
        self.provider()
            .raw_request::<_, serde_json::Value>(method.into(), params)
            .await
            .unwrap_or_else(|e| panic!("anvil {method}: {e}"))
    }

    /// Moves the chain's clock `secs` forward and mines a block at the new time.
    pub async fn time_travel(&self, secs: u64) {
        self.rpc("evm_increaseTime", serde_json::json!([secs]))
            .await;
        self.rpc("evm_mine", serde_json::json!([])).await;
    }

    /// Replaces the last `depth` blocks with empty ones (`anvil_reorg` with no transactions).
    pub async fn reorg(&self, depth: u64) {
        self.rpc("anvil_reorg", serde_json::json!([depth, []]))
            .await;
    }

    /// The receipt of the transaction `hash`, if the chain holds it.
    pub async fn tx_receipt(
        &self,
        hash: alloy::primitives::B256,
    ) -> Option<alloy::rpc::types::TransactionReceipt> {
        self.provider().get_transaction_receipt(hash).await.unwrap()
    }

    /// The hash of block `number`.
    pub async fn block_hash(&self, number: u64) -> alloy::primitives::B256 {
        self.provider()
            .get_block_by_number(number.into())
            .await
            .unwrap()
            .expect("the block exists")
            .header
            .hash
    }

    /// Mines `n` empty blocks.
    pub async fn mine(&self, n: u64) {
        self.rpc("anvil_mine", serde_json::json!([n])).await;
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP forwarder in front of an RPC (anvil) that the test can cut: while it is down it
/// accepts and at once closes every connection and drops the open ones, so the service sees the
/// node as unreachable while anvil (and the chain's state) lives on behind it.
pub struct RpcProxy {
    pub url: String,
    up: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RpcProxy {
    pub async fn start(target: &str) -> Self {
        let target = target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the RPC proxy");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (up, up_rx) = tokio::sync::watch::channel(true);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !*up_rx.borrow() {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut down = up_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { url, up, task }
    }

    /// Cuts the RPC: open connections are dropped, new ones closed at once.
    pub fn down(&self) {
        self.up.send_replace(false);
    }

    pub fn up(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for RpcProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
