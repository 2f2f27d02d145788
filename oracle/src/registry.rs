//! The model registry: publishers upload ONNX models; each is validated by ONNX Runtime, its
//! weights committed (`weights_root`, see docs/PROTOCOL.md) and stored content-addressed.
//! The same weights uploaded twice are one model.

use std::{
    collections::HashMap,
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};

use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use tracing::{info, instrument};

use crate::{
    auth::Principal,
    clock::SharedClock,
    config::EngineConfig,
    db::{model_tensors, models},
    engine::{Engine, TensorSpec},
    error::{OracleError, Result},
    judge::{self, Blocker, Disputability},
    onnx::{self, ModelScan, WeightTensor},
    sandbox::{self, ModelWorker, Sandbox},
    storage::{ModelStore, StagedFile},
    types::{Address, BoundedText, ModelName, Role, Wei},
};

/// Life-cycle state of a registered model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelState {
    /// Validated, stored and committed; not yet on-chain.
    Registered,
    /// Its weights commitment is registered on-chain as an ERC-7641 token.
    Tokenized,
}

impl ModelState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Tokenized => "tokenized",
        }
    }
}

impl FromStr for ModelState {
    type Err = OracleError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "registered" => Ok(Self::Registered),
            "tokenized" => Ok(Self::Tokenized),
            other => Err(OracleError::Database(format!(
                "unknown model state `{other}` in storage"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opset {
    pub domain: String,
    pub version: i64,
}

/// Models larger than this are not assessed for disputes (the judge decodes the whole file, and
/// no call of a model this large fits the on-chain game's limits anyway; docs/PROTOCOL.md §9).
pub const ASSESS_MAX_MODEL_BYTES: u64 = 64 << 20;

/// Whether calls to a model can be disputed on-chain (docs/PROTOCOL.md §9.1): decided at
/// registration by [`judge::assess`], and again when the model is first served under another
/// execution fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DisputeVerdict {
    /// Not assessed (registered before assessment existed; assessed again on its next load).
    NotAssessed,
    /// Every node is in the judge's op set and ONNX Runtime equalled the reference bit for bit
    /// on every sample under `fingerprint`; `program_id` is the program to commit on-chain.
    Disputable {
        fingerprint: String,
        program_id: String,
    },
    /// Not disputable: `blocked_by` names the node and operator (or the model-level reason);
    /// `fingerprint` is the one ONNX Runtime ran under, if it ran.
    Blocked {
        fingerprint: Option<String>,
        blocked_by: Blocker,
    },
}

impl DisputeVerdict {
    fn of(d: &Disputability) -> Self {
        match (&d.program, &d.blocked_by) {
            (Some(p), None) if d.disputable => Self::Disputable {
                fingerprint: d.fingerprint.clone().unwrap_or_default(),
                program_id: format!("{:#x}", p.id),
            },
            (_, Some(b)) => Self::Blocked {
                fingerprint: d.fingerprint.clone(),
                blocked_by: b.clone(),
            },
            _ => Self::Blocked {
                fingerprint: d.fingerprint.clone(),
                blocked_by: Blocker {
                    node: None,
                    op: None,
                    reason: "the assessment gave no program".into(),
                },
            },
        }
    }

    /// The fingerprint the verdict holds for, when ONNX Runtime ran.
    pub fn fingerprint(&self) -> Option<&str> {
        match self {
            Self::NotAssessed => None,
            Self::Disputable { fingerprint, .. } => Some(fingerprint),
            Self::Blocked { fingerprint, .. } => fingerprint.as_deref(),
        }
    }

    pub fn is_disputable(&self) -> bool {
        matches!(self, Self::Disputable { .. })
    }

    /// The four `models` columns that store it.
    fn columns(&self) -> (bool, Option<String>, Option<String>, Option<String>) {
        match self {
            Self::NotAssessed => (false, None, None, None),
            Self::Disputable {
                fingerprint,
                program_id,
            } => (
                true,
                None,
                Some(fingerprint.clone()),
                Some(program_id.clone()),
            ),
            Self::Blocked {
                fingerprint,
                blocked_by,
            } => (false, Some(json(blocked_by)), fingerprint.clone(), None),
        }
    }

    fn from_columns(m: &models::Model) -> Result<Self> {
        Ok(
            match (&m.dispute_blocked_by, &m.dispute_fingerprint, &m.program_id) {
                (Some(b), fingerprint, _) => Self::Blocked {
                    fingerprint: fingerprint.clone(),
                    blocked_by: serde_json::from_str(b).map_err(|e| {
                        OracleError::Database(format!(
                            "corrupt dispute_blocked_by for {}: {e}",
                            m.id
                        ))
                    })?,
                },
                (None, Some(fingerprint), Some(program_id)) if m.disputable => Self::Disputable {
                    fingerprint: fingerprint.clone(),
                    program_id: program_id.clone(),
                },
                _ => Self::NotAssessed,
            },
        )
    }
}

/// A registered model as the domain sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    pub version: String,
    pub price_wei: Wei,
    pub publisher: Address,
    pub file_sha256: String,
    pub weights_root: String,
    pub file_size: u64,
    pub ir_version: i64,
    pub opsets: Vec<Opset>,
    pub producer: String,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    pub tensor_count: u64,
    pub state: ModelState,
    pub active: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Whether its calls can be disputed on-chain, and why not.
    pub dispute: DisputeVerdict,
}

impl TryFrom<models::Model> for ModelRecord {
    type Error = OracleError;
    fn try_from(m: models::Model) -> Result<Self> {
        let json = |what: &str, s: &str| {
            OracleError::Database(format!("corrupt {what} for model {}: {s}", m.id))
        };
        Ok(Self {
            price_wei: m.price_wei.parse()?,
            publisher: m.publisher.parse()?,
            opsets: serde_json::from_str(&m.opsets).map_err(|e| json("opsets", &e.to_string()))?,
            inputs: serde_json::from_str(&m.inputs).map_err(|e| json("inputs", &e.to_string()))?,
            outputs: serde_json::from_str(&m.outputs)
                .map_err(|e| json("outputs", &e.to_string()))?,
            state: m.state.parse()?,
            dispute: DisputeVerdict::from_columns(&m)?,
            file_size: m.file_size as u64,
            tensor_count: m.tensor_count as u64,
            id: m.id,
            name: m.name,
            description: m.description,
            version: m.version,
            file_sha256: m.file_sha256,
            weights_root: m.weights_root,
            ir_version: m.ir_version,
            producer: m.producer,
            active: m.active,
            created_at_ms: m.created_at_ms,
            updated_at_ms: m.updated_at_ms,
        })
    }
}

/// Metadata a publisher supplies with an upload.
#[derive(Debug, Clone)]
pub struct NewModel {
    pub name: ModelName,
    pub description: BoundedText,
    pub version: BoundedText,
    pub price: Wei,
}

/// What an upload did.
#[derive(Debug, Clone)]
pub enum Registration {
    /// A new model was registered.
    Created(ModelRecord),
    /// These weights were already registered by the same publisher: the existing model is
    /// returned unchanged (the new upload's metadata is ignored).
    Existing(ModelRecord),
}

/// A change to a model's mutable fields.
#[derive(Debug, Clone, Default)]
pub struct ModelPatch {
    pub price: Option<Wei>,
    pub description: Option<BoundedText>,
}

#[derive(Debug, Clone, Default)]
pub struct ModelFilter {
    pub publisher: Option<Address>,
    pub include_inactive: bool,
    /// Return models whose id sorts after this one (pagination cursor).
    pub after: Option<String>,
    pub limit: u64,
}

/// A weight tensor and its Merkle inclusion proof against the model's `weights_root`.
#[derive(Debug, Clone, Serialize)]
pub struct WeightProof {
    pub index: usize,
    pub count: usize,
    pub tensor: WeightTensorInfo,
    pub leaf: String,
    pub proof: Vec<String>,
    pub weights_root: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WeightTensorInfo {
    pub name: String,
    pub data_type: i32,
    pub dims: Vec<i64>,
    pub byte_len: u64,
    pub data_sha256: String,
}

impl TryFrom<model_tensors::Model> for WeightTensorInfo {
    type Error = OracleError;
    fn try_from(t: model_tensors::Model) -> Result<Self> {
        Ok(Self {
            dims: serde_json::from_str(&t.dims)
                .map_err(|e| OracleError::Database(format!("corrupt dims: {e}")))?,
            name: t.name,
            data_type: t.data_type,
            byte_len: t.byte_len as u64,
            data_sha256: t.data_sha256,
        })
    }
}

impl WeightTensorInfo {
    fn to_weight_tensor(&self) -> Result<WeightTensor> {
        let mut data_sha256 = [0u8; 32];
        hex::decode_to_slice(&self.data_sha256, &mut data_sha256)
            .map_err(|e| OracleError::Database(format!("corrupt tensor hash: {e}")))?;
        Ok(WeightTensor {
            name: self.name.clone(),
            data_type: self.data_type,
            dims: self.dims.clone(),
            data_sha256,
            byte_len: self.byte_len,
        })
    }
}

/// A model ready to serve: its record (re-read every `model_cache_ttl_secs`) and its worker.
pub struct ServingModel {
    pub record: ModelRecord,
    pub worker: Arc<ModelWorker>,
    /// Execution fingerprint of the sessions (docs/PROTOCOL.md) and its SHA-256 (hex).
    pub fingerprint: String,
    pub fingerprint_hash: String,
    checked_at: Instant,
}

#[derive(Clone)]
pub struct Registry {
    db: DatabaseConnection,
    store: ModelStore,
    engine: Arc<Engine>,
    sandbox: Sandbox,
    clock: SharedClock,
    serving: Arc<std::sync::Mutex<HashMap<String, Arc<ServingModel>>>>,
    loading: Arc<tokio::sync::Mutex<()>>,
    sessions_per_model: usize,
    ttl: Duration,
    /// Test-only fraud: what every model's worker serves instead of the registered file.
    #[cfg(feature = "fault-injection")]
    served_fraud: Option<judge::fraud::ServedFraud>,
}

fn may_modify(by: &Principal, model: &ModelRecord) -> bool {
    by.is_admin() || (by.role == Role::Publisher && by.address == model.publisher)
}

impl Registry {
    pub fn new(
        db: DatabaseConnection,
        store: ModelStore,
        engine: Arc<Engine>,
        sandbox: Sandbox,
        cfg: &EngineConfig,
        clock: SharedClock,
    ) -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Self {
            db,
            store,
            engine,
            sandbox,
            clock,
            serving: Default::default(),
            loading: Default::default(),
            sessions_per_model: if cfg.sessions_per_model == 0 {
                cores
            } else {
                cfg.sessions_per_model
            },
            ttl: Duration::from_secs(cfg.model_cache_ttl_secs),
            #[cfg(feature = "fault-injection")]
            served_fraud: None,
        }
    }

    /// Test-only fraud (`chain.fault_injection = "serve:<kind>"`, `fault-injection` feature):
    /// every model's worker loads `fraud`'s variant of the registered file (written next to it
    /// as `<file>.<kind>.onnx`), while records and receipts still name the registered weights.
    #[cfg(feature = "fault-injection")]
    pub fn with_served_fraud(mut self, fraud: Option<judge::fraud::ServedFraud>) -> Self {
        self.served_fraud = fraud;
        self
    }

    /// The file a model's worker loads: the registered one, or a fraud's variant of it.
    async fn served_path(&self, registered: std::path::PathBuf) -> Result<std::path::PathBuf> {
        #[cfg(feature = "fault-injection")]
        if let Some(fraud) = self.served_fraud {
            let bytes = tokio::fs::read(&registered)
                .await
                .map_err(|e| OracleError::Storage(format!("reading the model file: {e}")))?;
            let variant = judge::fraud::variant(&bytes, fraud)?;
            let mut name = registered.file_name().unwrap_or_default().to_owned();
            name.push(format!(".{}.onnx", fraud.as_str()));
            let path = registered.with_file_name(name);
            tokio::fs::write(&path, variant)
                .await
                .map_err(|e| OracleError::Storage(format!("writing the fraud variant: {e}")))?;
            tracing::warn!(fraud = fraud.as_str(), path = %path.display(), "TEST-ONLY FAULT INJECTION: serving a substitute model");
            return Ok(path);
        }
        Ok(registered)
    }

    /// The model named `name`, loaded and ready to serve. Loads it on first use; re-reads its
    /// record (price, state) when the cached copy is older than the TTL; fails with
    /// `ModelUnavailable` for deactivated models (and unloads them).
    pub async fn serving(&self, name: &str) -> Result<Arc<ServingModel>> {
        let model = self.serving_record(name).await?;
        if let Some(why) = model.worker.unhealthy() {
            return Err(OracleError::ModelUnavailable(why));
        }
        Ok(model)
    }

    async fn serving_record(&self, name: &str) -> Result<Arc<ServingModel>> {
        if let Some(m) = self.serving.lock().expect("serving lock").get(name)
            && m.checked_at.elapsed() < self.ttl
        {
            return Ok(m.clone());
        }
        let _guard = self.loading.lock().await;
        let cached = self
            .serving
            .lock()
            .expect("serving lock")
            .get(name)
            .cloned();
        if let Some(m) = &cached
            && m.checked_at.elapsed() < self.ttl
        {
            return Ok(m.clone());
        }
        let record = self.get(name).await?;
        if !record.active {
            self.serving.lock().expect("serving lock").remove(name);
            return Err(OracleError::ModelDeactivated(format!(
                "model `{name}` is deactivated by its publisher"
            )));
        }
        let first_load = cached.is_none();
        let worker = match cached.filter(|m| m.record.id == record.id) {
            Some(m) => m.worker.clone(),
            None => {
                let path = self
                    .served_path(self.store.path_for(&record.file_sha256))
                    .await?;
                let worker = Arc::new(ModelWorker::new(
                    self.sandbox.clone(),
                    &path,
                    &record.name,
                    self.sessions_per_model,
                ));
                worker.start().await?;
                worker
            }
        };
        let fingerprint = self.engine.fingerprint(&worker.execution_provider());
        let fingerprint_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            fingerprint.as_bytes(),
        ));
        let stale = match &record.dispute {
            DisputeVerdict::NotAssessed => true,
            v => v.fingerprint().is_some_and(|f| f != fingerprint),
        };
        if stale && first_load {
            // First load under this fingerprint: the verdict is re-established in the
            // background (the call does not wait for it).
            let (this, id) = (self.clone(), record.id.clone());
            let (path, size) = (self.store.path_for(&record.file_sha256), record.file_size);
            tokio::spawn(async move {
                if let Err(e) = this.reassess(&id, &path, size).await {
                    tracing::warn!(model_id = %id, error = %e, "re-assessing disputability failed");
                }
            });
        }
        let model = Arc::new(ServingModel {
            record,
            worker,
            fingerprint,
            fingerprint_hash,
            checked_at: Instant::now(),
        });
        self.serving
            .lock()
            .expect("serving lock")
            .insert(name.to_owned(), model.clone());
        Ok(model)
    }

    /// Stops every model worker of this process (shutdown: nothing is in flight any more).
    pub fn unload_all(&self) {
        let n = {
            let mut map = self.serving.lock().unwrap_or_else(|e| e.into_inner());
            let n = map.len();
            map.clear();
            n
        };
        if n > 0 {
            info!(models = n, "model workers stopped");
        }
    }

    /// Forgets a model's cached record and sessions in this process.
    fn evict(&self, model: &ModelRecord) {
        let mut map = self.serving.lock().expect("serving lock");
        map.retain(|_, m| m.record.id != model.id);
    }

    /// Loads every active model (start-up with `engine.preload`).
    pub async fn preload(&self) -> Result<usize> {
        let models = self
            .list(&ModelFilter {
                limit: 500,
                ..Default::default()
            })
            .await?;
        for m in &models {
            self.serving(&m.name).await?;
        }
        Ok(models.len())
    }

    pub fn store(&self) -> &ModelStore {
        &self.store
    }

    /// Validates, commits and registers an uploaded model. On any failure nothing remains: the
    /// staging file is deleted, a persisted file is removed again, the rows are rolled back.
    #[instrument(skip_all, fields(publisher = %by.address, name = %meta.name, sha256 = %upload.sha256_hex(), bytes = upload.len))]
    pub async fn register(
        &self,
        by: &Principal,
        meta: NewModel,
        upload: StagedFile,
    ) -> Result<Registration> {
        if !matches!(by.role, Role::Publisher | Role::Admin) {
            return Err(OracleError::Forbidden(
                "only publisher keys may upload models".into(),
            ));
        }
        let (upload, scan) = tokio::task::spawn_blocking(move || -> Result<_> {
            let scan = onnx::scan_model(upload.path())?;
            Ok((upload, scan))
        })
        .await
        .map_err(|e| OracleError::Engine(format!("validation task failed: {e}")))??;
        // ONNX Runtime loads and runs it in a throw-away worker under the memory budget.
        let probe = sandbox::probe(&self.sandbox, upload.path(), "the upload").await?;
        if let Some(why) = &probe.sample_refused {
            info!(reason = %why, "the model refused the zero sample input (accepted anyway)");
        }
        let signature = probe.signature;
        let weights_root = hex::encode(scan.weights_root);
        let verdict = self.assess(upload.path(), upload.len).await;
        let (disputable, blocked_by, dispute_fingerprint, program_id) = verdict.columns();

        if let Some(existing) = self.find_by_weights(&weights_root).await? {
            return self.dedupe(by, existing);
        }
        if models::Entity::find()
            .filter(models::Column::Name.eq(meta.name.as_str()))
            .one(&self.db)
            .await?
            .is_some()
        {
            return Err(OracleError::Conflict(format!(
                "model name `{}` is taken",
                meta.name
            )));
        }

        let now = self.clock.now_ms();
        let id = format!("mdl_{}", ulid::Ulid::new().to_string().to_lowercase());
        let file_sha256 = upload.sha256_hex();
        let file_size = upload.len;
        let row = models::ActiveModel {
            id: Set(id.clone()),
            name: Set(meta.name.to_string()),
            description: Set(meta.description.into_inner()),
            version: Set(meta.version.into_inner()),
            price_wei: Set(meta.price.to_string()),
            publisher: Set(by.address.storage_key()),
            file_sha256: Set(file_sha256.clone()),
            weights_root: Set(weights_root.clone()),
            file_size: Set(file_size as i64),
            ir_version: Set(scan.ir_version),
            opsets: Set(json(&opsets(&scan))),
            producer: Set(scan.producer.clone()),
            inputs: Set(json(&signature.inputs)),
            outputs: Set(json(&signature.outputs)),
            tensor_count: Set(scan.tensors.len() as i64),
            state: Set(ModelState::Registered.as_str().into()),
            active: Set(true),
            created_at_ms: Set(now),
            updated_at_ms: Set(now),
            disputable: Set(disputable),
            dispute_blocked_by: Set(blocked_by),
            dispute_fingerprint: Set(dispute_fingerprint),
            program_id: Set(program_id),
        };

        let (_, created_file) = self.store.persist(upload).await?;
        match self.insert(row, &id, &scan).await {
            Ok(()) => {}
            Err(e) => {
                if created_file && !self.file_referenced(&file_sha256).await.unwrap_or(true) {
                    self.store.remove(&file_sha256).await;
                }
                // A concurrent upload of the same weights or name won the race.
                if let OracleError::Conflict(_) = e
                    && let Some(existing) = self.find_by_weights(&weights_root).await?
                {
                    return self.dedupe(by, existing);
                }
                return Err(e);
            }
        }
        let record = self.get(&id).await?;
        info!(model_id = %id, weights_root = %weights_root, tensors = scan.tensors.len(), "model registered");
        metrics::counter!("imo_models_registered_total").increment(1);
        Ok(Registration::Created(record))
    }

    /// Is this model disputable under this process's execution fingerprint? Never fails: an
    /// assessment that cannot run is a verdict with its reason. ONNX Runtime runs in this
    /// process here, but only for models whose every node is in the judge's small op set and
    /// which already ran on the same sample shapes under the memory budget in a worker.
    async fn assess(&self, path: &std::path::Path, size: u64) -> DisputeVerdict {
        if size > ASSESS_MAX_MODEL_BYTES {
            return DisputeVerdict::Blocked {
                fingerprint: None,
                blocked_by: Blocker {
                    node: None,
                    op: None,
                    reason: format!(
                        "the model is larger than {} MiB, the limit for on-chain disputes",
                        ASSESS_MAX_MODEL_BYTES >> 20
                    ),
                },
            };
        }
        let started = Instant::now();
        let verdict = match judge::assess(path, &self.engine, &[]).await {
            Ok(d) => DisputeVerdict::of(&d),
            Err(e) => DisputeVerdict::Blocked {
                fingerprint: None,
                blocked_by: Blocker {
                    node: None,
                    op: None,
                    reason: format!("the reference interpreter could not be compared: {e}"),
                },
            },
        };
        metrics::histogram!("imo_model_assess_seconds").record(started.elapsed().as_secs_f64());
        verdict
    }

    /// Assesses a stored model again (a new execution fingerprint, or never assessed) and
    /// stores the verdict.
    #[instrument(skip(self, path))]
    pub async fn reassess(
        &self,
        id: &str,
        path: &std::path::Path,
        size: u64,
    ) -> Result<DisputeVerdict> {
        let verdict = self.assess(path, size).await;
        let (disputable, blocked_by, fingerprint, program_id) = verdict.columns();
        let row = models::ActiveModel {
            id: Set(id.to_owned()),
            disputable: Set(disputable),
            dispute_blocked_by: Set(blocked_by),
            dispute_fingerprint: Set(fingerprint),
            program_id: Set(program_id),
            ..Default::default()
        };
        models::Entity::update(row).exec(&self.db).await?;
        info!(model_id = %id, disputable = verdict.is_disputable(), "disputability assessed");
        Ok(verdict)
    }

    fn dedupe(&self, by: &Principal, existing: ModelRecord) -> Result<Registration> {
        if existing.publisher == by.address || by.is_admin() {
            Ok(Registration::Existing(existing))
        } else {
            Err(OracleError::Conflict(format!(
                "these weights are already registered by another publisher (model {})",
                existing.id
            )))
        }
    }

    async fn insert(&self, row: models::ActiveModel, id: &str, scan: &ModelScan) -> Result<()> {
        let txn = self.db.begin().await?;
        models::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(conflict_or_db)?;
        let rows: Vec<_> = scan
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| model_tensors::ActiveModel {
                model_id: Set(id.to_owned()),
                idx: Set(i as i32),
                name: Set(t.name.clone()),
                data_type: Set(t.data_type),
                dims: Set(json(&t.dims)),
                byte_len: Set(t.byte_len as i64),
                data_sha256: Set(hex::encode(t.data_sha256)),
            })
            .collect();
        // PostgreSQL caps bind parameters at 65535 per statement: 7 columns x 1000 rows.
        for chunk in rows.chunks(1000) {
            model_tensors::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    async fn file_referenced(&self, file_sha256: &str) -> Result<bool> {
        Ok(models::Entity::find()
            .filter(models::Column::FileSha256.eq(file_sha256))
            .one(&self.db)
            .await?
            .is_some())
    }

    async fn find_by_weights(&self, weights_root: &str) -> Result<Option<ModelRecord>> {
        models::Entity::find()
            .filter(models::Column::WeightsRoot.eq(weights_root))
            .one(&self.db)
            .await?
            .map(ModelRecord::try_from)
            .transpose()
    }

    /// Looks a model up by id (`mdl_…`) or by name.
    pub async fn get(&self, id_or_name: &str) -> Result<ModelRecord> {
        let by_id = models::Entity::find_by_id(id_or_name.to_owned())
            .one(&self.db)
            .await?;
        let row = match by_id {
            Some(r) => Some(r),
            None => {
                models::Entity::find()
                    .filter(models::Column::Name.eq(id_or_name))
                    .one(&self.db)
                    .await?
            }
        };
        row.ok_or_else(|| OracleError::not_found(format!("model `{id_or_name}`")))?
            .try_into()
    }

    pub async fn list(&self, f: &ModelFilter) -> Result<Vec<ModelRecord>> {
        let mut q = models::Entity::find().order_by_asc(models::Column::Id);
        if let Some(p) = f.publisher {
            q = q.filter(models::Column::Publisher.eq(p.storage_key()));
        }
        if !f.include_inactive {
            q = q.filter(models::Column::Active.eq(true));
        }
        if let Some(after) = &f.after {
            q = q.filter(models::Column::Id.gt(after.as_str()));
        }
        q.limit(f.limit.clamp(1, 500))
            .all(&self.db)
            .await?
            .into_iter()
            .map(ModelRecord::try_from)
            .collect()
    }

    /// Changes price and/or description. Only the owning publisher or an admin may.
    #[instrument(skip(self, by, patch), fields(by = %by.address))]
    pub async fn update(&self, by: &Principal, id: &str, patch: ModelPatch) -> Result<ModelRecord> {
        let model = self.get(id).await?;
        if !may_modify(by, &model) {
            return Err(OracleError::Forbidden(format!(
                "model {} belongs to another publisher",
                model.id
            )));
        }
        let mut row = models::ActiveModel {
            id: Set(model.id.clone()),
            ..Default::default()
        };
        if let Some(p) = patch.price {
            row.price_wei = Set(p.to_string());
        }
        if let Some(d) = patch.description {
            row.description = Set(d.into_inner());
        }
        row.updated_at_ms = Set(self.clock.now_ms());
        models::Entity::update(row).exec(&self.db).await?;
        self.evict(&model);
        self.get(&model.id).await
    }

    /// Deactivates a model: it stays listed (with `include_inactive`) and keeps its name and
    /// commitment, but can no longer be served. Idempotent.
    #[instrument(skip(self, by), fields(by = %by.address))]
    pub async fn deactivate(&self, by: &Principal, id: &str) -> Result<ModelRecord> {
        let model = self.get(id).await?;
        if !may_modify(by, &model) {
            return Err(OracleError::Forbidden(format!(
                "model {} belongs to another publisher",
                model.id
            )));
        }
        if model.active {
            let row = models::ActiveModel {
                id: Set(model.id.clone()),
                active: Set(false),
                updated_at_ms: Set(self.clock.now_ms()),
                ..Default::default()
            };
            models::Entity::update(row).exec(&self.db).await?;
            info!(model_id = %model.id, "model deactivated");
        }
        self.evict(&model);
        self.get(&model.id).await
    }

    /// The committed weight tensors, in canonical (commitment) order.
    pub async fn weights(&self, id: &str) -> Result<(ModelRecord, Vec<WeightTensorInfo>)> {
        let model = self.get(id).await?;
        let rows = model_tensors::Entity::find()
            .filter(model_tensors::Column::ModelId.eq(model.id.as_str()))
            .order_by_asc(model_tensors::Column::Idx)
            .all(&self.db)
            .await?;
        let tensors = rows
            .into_iter()
            .map(WeightTensorInfo::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok((model, tensors))
    }

    /// The inclusion proof of tensor `index` against the model's `weights_root`.
    pub async fn weight_proof(&self, id: &str, index: usize) -> Result<WeightProof> {
        let (model, tensors) = self.weights(id).await?;
        let tensor = tensors.get(index).cloned().ok_or_else(|| {
            OracleError::not_found(format!("weight tensor {index} of model {}", model.id))
        })?;
        let leaves = tensors
            .iter()
            .map(|t| t.to_weight_tensor().map(|w| onnx::leaf_hash(&w)))
            .collect::<Result<Vec<_>>>()?;
        let root = hex::encode(onnx::merkle_root(&leaves));
        if root != model.weights_root {
            return Err(OracleError::Database(format!(
                "stored tensors of {} do not match its weights_root",
                model.id
            )));
        }
        Ok(WeightProof {
            index,
            count: leaves.len(),
            tensor,
            leaf: hex::encode(leaves[index]),
            proof: onnx::inclusion_proof(&leaves, index)
                .iter()
                .map(hex::encode)
                .collect(),
            weights_root: root,
        })
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serializes")
}

fn opsets(scan: &ModelScan) -> Vec<Opset> {
    scan.opsets
        .iter()
        .map(|(domain, version)| Opset {
            domain: domain.clone(),
            version: *version,
        })
        .collect()
}

fn conflict_or_db(e: sea_orm::DbErr) -> OracleError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => OracleError::Conflict(
            "a model with this name or these weights was registered concurrently".into(),
        ),
        _ => e.into(),
    }
}
