//! The Open Inference Protocol over gRPC: KServe v2 / Triton `inference.GRPCInferenceService`
//! (`proto/grpc_predict_v2.proto`), served by tonic on `server.grpc_bind` from the same process
//! as the HTTP server. It is the same service as `/v2` over REST: the same authentication (the
//! API key in the `authorization` metadata, `Bearer <key>`, or `x-api-key`), the same metered
//! [`imo_oracle::inference::Inference::infer`] (reservation, durable receipt before the answer),
//! and the signed receipt in the response `parameters` (`imo_receipt_id`, `imo_receipt`,
//! `imo_receipt_signature`, string parameters). Inputs come as `raw_input_contents` (what
//! tritonclient sends) or as typed `contents`; outputs always go back as
//! `raw_output_contents`. Errors carry the gRPC code matching the REST status
//! ([`crate::error::grpc_status`]) and the stable code in the `imo-error-code` metadata.

use std::{net::SocketAddr, time::Instant};

use imo_oracle::{
    Oracle, OracleError,
    auth::Principal,
    inference::InferCall,
    tensor::{DataType, Tensor, TensorData, element_count},
};
use tonic::{Request, Response, Status, metadata::MetadataMap};

use crate::{
    error::{ApiError, grpc_status},
    oip,
};

/// The messages and the service generated from `proto/grpc_predict_v2.proto` by `build.rs`.
#[allow(clippy::all, rust_2018_idioms, missing_docs)]
pub mod pb {
    tonic::include_proto!("inference");
}

use pb::{
    InferParameter, InferTensorContents, ModelInferRequest, ModelInferResponse,
    grpc_inference_service_server::{GrpcInferenceService, GrpcInferenceServiceServer},
    infer_parameter::ParameterChoice,
    model_infer_request::InferInputTensor,
    model_infer_response::InferOutputTensor,
    model_metadata_response::TensorMetadata,
};

/// The gRPC service: a handle on the domain, as the HTTP handlers have.
#[derive(Clone)]
pub struct GrpcService {
    oracle: Oracle,
}

fn bad(msg: impl Into<String>) -> Status {
    grpc_status(ApiError::BadRequest(msg.into()))
}

fn domain(e: OracleError) -> Status {
    grpc_status(ApiError::Domain(e))
}

/// Records the request count and latency of one gRPC method, as the HTTP middleware does.
fn observe<T>(method: &'static str, started: Instant, r: &Result<T, Status>) {
    let code = match r {
        Ok(_) => "Ok".to_owned(),
        Err(s) => format!("{:?}", s.code()),
    };
    metrics::counter!("imo_grpc_requests_total", "method" => method, "code" => code).increment(1);
    metrics::histogram!("imo_grpc_request_duration_seconds", "method" => method)
        .record(started.elapsed().as_secs_f64());
}

fn presented_key(md: &MetadataMap) -> Option<String> {
    let entry = |name: &str| md.get(name).and_then(|v| v.to_str().ok());
    crate::extract::key_of(entry("authorization"), entry("x-api-key"))
}

/// Decodes the inputs of a request: `raw_input_contents` (one entry per input, in order) or
/// each input's typed `contents`. Errors name the input.
pub fn decode_inputs(
    inputs: Vec<InferInputTensor>,
    raw: Vec<bytes::Bytes>,
) -> Result<Vec<Tensor>, Status> {
    if !raw.is_empty() && raw.len() != inputs.len() {
        return Err(bad(format!(
            "raw_input_contents has {} entries for {} inputs: give one per input, in order",
            raw.len(),
            inputs.len()
        )));
    }
    let mut raw = raw.into_iter();
    inputs
        .into_iter()
        .map(|input| {
            let name = input.name;
            if input.parameters.contains_key("shared_memory_region") {
                return Err(bad(format!(
                    "input `{name}`: shared memory is not supported"
                )));
            }
            let datatype = oip::input_datatype(&name, &input.datatype).map_err(bad)?;
            let shape = input
                .shape
                .iter()
                .map(|&d| u64::try_from(d))
                .collect::<Result<Vec<u64>, _>>()
                .map_err(|_| {
                    bad(format!(
                        "input `{name}`: shape dimensions must be non-negative, got {:?}",
                        input.shape
                    ))
                })?;
            let count = element_count(&shape)
                .ok_or_else(|| bad(format!("input `{name}`: shape {shape:?} is too large")))?;
            let data = match (raw.next(), input.contents) {
                (Some(_), Some(_)) => {
                    return Err(bad(format!(
                        "input `{name}`: has both `contents` and raw_input_contents"
                    )));
                }
                (Some(bytes), None) => oip::decode_binary(&name, datatype, count, &bytes)
                    .map_err(|e| bad(e.message()))?,
                (None, Some(c)) => typed_contents(&name, datatype, c)?,
                (None, None) => {
                    return Err(bad(format!(
                        "input `{name}`: has neither `contents` nor raw_input_contents"
                    )));
                }
            };
            Tensor::new(name, datatype, shape, data).map_err(domain)
        })
        .collect()
}

/// An input's typed `contents` as little-endian bytes (integers narrower than their field are
/// range-checked; FP16 has no typed field and must come raw).
fn typed_contents(
    name: &str,
    datatype: DataType,
    c: InferTensorContents,
) -> Result<TensorData, Status> {
    fn narrow<S: Copy + std::fmt::Display, T: TryFrom<S>, const N: usize>(
        name: &str,
        what: &str,
        items: &[S],
        le: impl Fn(T) -> [u8; N],
    ) -> Result<TensorData, Status> {
        let mut out = Vec::with_capacity(items.len() * N);
        for &v in items {
            let t = T::try_from(v)
                .map_err(|_| bad(format!("input `{name}`: {v} does not fit {what}")))?;
            out.extend_from_slice(&le(t));
        }
        Ok(TensorData::Fixed(out))
    }
    Ok(match datatype {
        DataType::Bool => TensorData::Fixed(c.bool_contents.iter().map(|&b| b as u8).collect()),
        DataType::Int8 => narrow(name, "INT8", &c.int_contents, i8::to_le_bytes)?,
        DataType::Int16 => narrow(name, "INT16", &c.int_contents, i16::to_le_bytes)?,
        DataType::Int32 => narrow(name, "INT32", &c.int_contents, i32::to_le_bytes)?,
        DataType::Int64 => narrow(name, "INT64", &c.int64_contents, i64::to_le_bytes)?,
        DataType::Uint8 => narrow(name, "UINT8", &c.uint_contents, u8::to_le_bytes)?,
        DataType::Uint16 => narrow(name, "UINT16", &c.uint_contents, u16::to_le_bytes)?,
        DataType::Uint32 => narrow(name, "UINT32", &c.uint_contents, u32::to_le_bytes)?,
        DataType::Uint64 => narrow(name, "UINT64", &c.uint64_contents, u64::to_le_bytes)?,
        DataType::Fp32 => TensorData::Fixed(
            c.fp32_contents
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        DataType::Fp64 => TensorData::Fixed(
            c.fp64_contents
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        DataType::Fp16 => {
            return Err(bad(format!(
                "input `{name}`: FP16 has no typed contents field; send it in raw_input_contents"
            )));
        }
        DataType::Bytes => {
            TensorData::Bytes(c.bytes_contents.into_iter().map(|b| b.to_vec()).collect())
        }
    })
}

fn string_param(s: String) -> InferParameter {
    InferParameter {
        parameter_choice: Some(ParameterChoice::StringParam(s)),
    }
}

impl GrpcService {
    pub fn new(oracle: Oracle) -> Self {
        Self { oracle }
    }

    async fn authenticate(&self, md: &MetadataMap) -> Result<Principal, Status> {
        let key = presented_key(md).ok_or_else(|| {
            domain(OracleError::Unauthenticated(
                "missing API key: send the metadata `authorization: Bearer <key>`".into(),
            ))
        })?;
        let principal = self.oracle.auth.authenticate(&key).await.map_err(domain)?;
        tracing::Span::current().record("caller", tracing::field::display(&principal.address));
        Ok(principal)
    }

    async fn metadata(&self, name: &str, version: &str) -> Result<oip::ModelMetadata, Status> {
        let version = (!version.is_empty()).then_some(version);
        crate::routes::v2::metadata(&self.oracle, name, version)
            .await
            .map_err(|e| grpc_status(e.0))
    }

    #[tracing::instrument(skip_all, fields(caller, model = %req.get_ref().model_name))]
    async fn infer(
        &self,
        req: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let started = Instant::now();
        let caller = self.authenticate(req.metadata()).await?;
        let auth = started.elapsed();
        let r = req.into_inner();
        if let Some(k) = ["shared_memory_region", "sequence_id"]
            .iter()
            .find(|k| r.parameters.contains_key(**k))
        {
            return Err(bad(format!("parameter `{k}` is not supported")));
        }
        let mark = Instant::now();
        let wanted: Vec<String> = r.outputs.into_iter().map(|o| o.name).collect();
        let call = InferCall {
            model: r.model_name,
            version: (!r.model_version.is_empty()).then_some(r.model_version),
            inputs: decode_inputs(r.inputs, r.raw_input_contents)?,
            outputs: wanted,
        };
        let decode = mark.elapsed();
        let outcome = self
            .oracle
            .inference
            .infer(&caller, call)
            .await
            .map_err(domain)?;
        let mark = Instant::now();
        let receipt_json = serde_json::to_string(&outcome.receipt).expect("receipt serializes");
        let parameters = [
            ("imo_receipt_id", outcome.receipt.id.clone()),
            ("imo_receipt", receipt_json),
            ("imo_receipt_signature", outcome.receipt.signature.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), string_param(v)))
        .collect();
        let mut outputs = Vec::with_capacity(outcome.outputs.len());
        let mut raw = Vec::with_capacity(outcome.outputs.len());
        for t in &outcome.outputs {
            outputs.push(InferOutputTensor {
                name: t.name().to_owned(),
                datatype: t.datatype().as_str().to_owned(),
                shape: t.shape().iter().map(|&d| d as i64).collect(),
                parameters: Default::default(),
                contents: None,
            });
            let mut bytes = Vec::new();
            oip::append_binary(t, &mut bytes);
            raw.push(bytes::Bytes::from(bytes));
        }
        let mut resp = Response::new(ModelInferResponse {
            model_name: outcome.model_name,
            model_version: outcome.model_version,
            id: r.id,
            parameters,
            outputs,
            raw_output_contents: raw,
        });
        // The same steps as the REST handler's `Server-Timing` (prost decoded the message before
        // this handler ran, so `decode` is only the tensors' conversion).
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let timing = format!(
            "auth;dur={:.3}, decode;dur={:.3}, {}, encode;dur={:.3}, infer;dur={:.3}, total;dur={:.3}",
            ms(auth),
            ms(decode),
            outcome.steps.server_timing(),
            ms(mark.elapsed()),
            ms(outcome.run_time),
            ms(started.elapsed())
        );
        if let Ok(v) = timing.parse() {
            resp.metadata_mut().insert("server-timing", v);
        }
        Ok(resp)
    }
}

#[tonic::async_trait]
impl GrpcInferenceService for GrpcService {
    async fn server_live(
        &self,
        _: Request<pb::ServerLiveRequest>,
    ) -> Result<Response<pb::ServerLiveResponse>, Status> {
        Ok(Response::new(pb::ServerLiveResponse { live: true }))
    }

    async fn server_ready(
        &self,
        _: Request<pb::ServerReadyRequest>,
    ) -> Result<Response<pb::ServerReadyResponse>, Status> {
        let ready = imo_oracle::db::ping(&self.oracle.db).await.is_ok();
        Ok(Response::new(pb::ServerReadyResponse { ready }))
    }

    async fn model_ready(
        &self,
        req: Request<pb::ModelReadyRequest>,
    ) -> Result<Response<pb::ModelReadyResponse>, Status> {
        let started = Instant::now();
        let r = req.into_inner();
        let result = async {
            self.metadata(&r.name, &r.version).await?;
            // Not found is an error; a model that exists but cannot serve is `ready: false`.
            let ready = self.oracle.registry.serving(&r.name).await.is_ok();
            Ok(Response::new(pb::ModelReadyResponse { ready }))
        }
        .await;
        observe("ModelReady", started, &result);
        result
    }

    async fn server_metadata(
        &self,
        _: Request<pb::ServerMetadataRequest>,
    ) -> Result<Response<pb::ServerMetadataResponse>, Status> {
        let m = oip::ServerMetadata::new("imo-oracle", env!("CARGO_PKG_VERSION"));
        Ok(Response::new(pb::ServerMetadataResponse {
            name: m.name,
            version: m.version,
            extensions: m.extensions,
        }))
    }

    async fn model_metadata(
        &self,
        req: Request<pb::ModelMetadataRequest>,
    ) -> Result<Response<pb::ModelMetadataResponse>, Status> {
        let started = Instant::now();
        let r = req.into_inner();
        let result = self.metadata(&r.name, &r.version).await.map(|m| {
            let specs = |ts: Vec<oip::TensorMetadata>| {
                ts.into_iter()
                    .map(|t| TensorMetadata {
                        name: t.name,
                        datatype: t.datatype,
                        shape: t.shape,
                    })
                    .collect()
            };
            Response::new(pb::ModelMetadataResponse {
                name: m.name,
                versions: m.versions,
                platform: m.platform,
                inputs: specs(m.inputs),
                outputs: specs(m.outputs),
            })
        });
        observe("ModelMetadata", started, &result);
        result
    }

    async fn model_infer(
        &self,
        req: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let started = Instant::now();
        let result = self.infer(req).await;
        observe("ModelInfer", started, &result);
        result
    }
}

/// A gRPC server that is listening.
pub struct RunningGrpc {
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl RunningGrpc {
    /// Stops accepting, lets the calls in flight finish, and waits for the server to end.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "gRPC server ended with an error"),
            Err(e) => tracing::warn!(error = %e, "gRPC server task failed"),
            Ok(Ok(())) => {}
        }
    }
}

/// Binds `server.grpc_bind` and serves the gRPC service (requests up to
/// `metering.max_request_bytes`, as over REST).
pub fn start(oracle: Oracle) -> std::io::Result<RunningGrpc> {
    let bind = oracle.config.server.grpc_bind;
    let limit = oracle.config.metering.max_request_bytes;
    let incoming = tonic::transport::server::TcpIncoming::bind(bind)?.with_nodelay(Some(true));
    let addr = incoming.local_addr()?;
    let service = GrpcInferenceServiceServer::new(GrpcService::new(oracle))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(usize::MAX);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            }),
    );
    Ok(RunningGrpc { addr, stop, task })
}
