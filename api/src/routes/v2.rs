//! The Open Inference Protocol v2 over REST (KServe v2 / Triton HTTP), with Triton's binary
//! tensor data extension. Every successful inference is metered and answered with a signed
//! receipt: in the response `parameters` (`imo_receipt_id`, `imo_receipt`,
//! `imo_receipt_signature`) and in the `imo-receipt-id` / `imo-receipt` headers.

use actix_web::{HttpRequest, HttpResponse, get, http::header, post, web};
use futures_util::StreamExt;
use imo_oracle::{Oracle, OracleError, inference::InferCall};

use crate::{
    error::{ApiError, V2Error, V2ErrorBody},
    extract::V2Caller,
    oip,
};

type V2Result<T> = Result<T, V2Error>;

const HEADER_LEN: &str = "inference-header-content-length";

/// Server metadata.
#[utoipa::path(get, path = "/v2", tag = "inference", responses((status = 200, body = oip::ServerMetadata)))]
#[get("/v2")]
pub async fn server_metadata() -> web::Json<oip::ServerMetadata> {
    web::Json(oip::ServerMetadata::new(
        "imo-oracle",
        env!("CARGO_PKG_VERSION"),
    ))
}

/// Server liveness.
#[utoipa::path(get, path = "/v2/health/live", tag = "inference", responses((status = 200)))]
#[get("/v2/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().finish()
}

/// Server readiness: the database answers.
#[utoipa::path(get, path = "/v2/health/ready", tag = "inference", responses((status = 200), (status = 503, body = V2ErrorBody)))]
#[get("/v2/health/ready")]
pub async fn ready(oracle: web::Data<Oracle>) -> V2Result<HttpResponse> {
    imo_oracle::db::ping(&oracle.db).await?;
    Ok(HttpResponse::Ok().finish())
}

pub(crate) async fn metadata(
    oracle: &Oracle,
    name: &str,
    version: Option<&str>,
) -> V2Result<oip::ModelMetadata> {
    let m = oracle.registry.get(name).await?;
    if m.name != name || version.is_some_and(|v| v != m.version) {
        return Err(OracleError::NotFound {
            what: format!(
                "model `{name}`{}",
                version
                    .map(|v| format!(" version `{v}`"))
                    .unwrap_or_default()
            ),
        }
        .into());
    }
    let specs = |ts: &[imo_oracle::engine::TensorSpec]| {
        ts.iter()
            .map(|t| oip::TensorMetadata {
                name: t.name.clone(),
                datatype: t.datatype.clone(),
                shape: t.shape.clone(),
            })
            .collect()
    };
    Ok(oip::ModelMetadata {
        name: m.name.clone(),
        versions: vec![m.version.clone()],
        platform: oip::PLATFORM.into(),
        inputs: specs(&m.inputs),
        outputs: specs(&m.outputs),
    })
}

/// Model metadata: inputs and outputs with protocol datatypes and shapes (-1 = dynamic).
#[utoipa::path(get, path = "/v2/models/{name}", tag = "inference",
    params(("name" = String, Path)), responses((status = 200, body = oip::ModelMetadata), (status = 404, body = V2ErrorBody)))]
#[get("/v2/models/{name}")]
pub async fn model_metadata(
    oracle: web::Data<Oracle>,
    name: web::Path<String>,
) -> V2Result<web::Json<oip::ModelMetadata>> {
    Ok(web::Json(metadata(&oracle, &name, None).await?))
}

/// Model metadata for one version.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}", tag = "inference",
    params(("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = oip::ModelMetadata), (status = 404, body = V2ErrorBody)))]
#[get("/v2/models/{name}/versions/{version}")]
pub async fn model_version_metadata(
    oracle: web::Data<Oracle>,
    path: web::Path<(String, String)>,
) -> V2Result<web::Json<oip::ModelMetadata>> {
    let (name, version) = path.into_inner();
    Ok(web::Json(metadata(&oracle, &name, Some(&version)).await?))
}

async fn model_ready_impl(
    oracle: &Oracle,
    name: &str,
    version: Option<&str>,
) -> V2Result<HttpResponse> {
    metadata(oracle, name, version).await?;
    oracle.registry.serving(name).await?;
    Ok(HttpResponse::Ok().finish())
}

/// Model readiness: 200 when the model is active and loaded (this loads it), 503 when it is
/// deactivated or cannot load.
#[utoipa::path(get, path = "/v2/models/{name}/ready", tag = "inference", params(("name" = String, Path)),
    responses((status = 200), (status = 404, body = V2ErrorBody), (status = 503, body = V2ErrorBody)))]
#[get("/v2/models/{name}/ready")]
pub async fn model_ready(
    oracle: web::Data<Oracle>,
    name: web::Path<String>,
) -> V2Result<HttpResponse> {
    model_ready_impl(&oracle, &name, None).await
}

/// Readiness of one model version.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}/ready", tag = "inference",
    params(("name" = String, Path), ("version" = String, Path)),
    responses((status = 200), (status = 404, body = V2ErrorBody), (status = 503, body = V2ErrorBody)))]
#[get("/v2/models/{name}/versions/{version}/ready")]
pub async fn model_version_ready(
    oracle: web::Data<Oracle>,
    path: web::Path<(String, String)>,
) -> V2Result<HttpResponse> {
    let (name, version) = path.into_inner();
    model_ready_impl(&oracle, &name, Some(&version)).await
}

async fn read_body(oracle: &Oracle, mut body: web::Payload) -> V2Result<web::BytesMut> {
    let limit = oracle.config.metering.max_request_bytes;
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(ApiError::body)?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge(limit as u64).into());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// The request header carrying an acknowledgement (`<epoch>:<amount>:<calls>:<0x signature>`).
pub const ACK_HEADER: &str = "imo-acknowledgement";

/// Handles one inference; answers with a `Server-Timing` header so clients and benchmarks can
/// see the service's overhead step by step: `auth`, `read` (the body), `decode`, the domain's
/// steps (`validate`, `reserve`, `run`, `hash`, `sign`, `commit`; see
/// [`imo_oracle::inference::CallSteps`]), `encode`, and `infer` (= `run`, the model's worker)
/// and `total` (authentication to the response, i.e. everything after actix parsed the
/// request's head).
async fn infer_impl(
    oracle: &Oracle,
    caller: V2Caller,
    req: HttpRequest,
    name: String,
    version: Option<String>,
    body: web::Payload,
) -> V2Result<HttpResponse> {
    let started = std::time::Instant::now();
    let auth = caller.1;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > oracle.config.metering.max_request_bytes) {
        return Err(ApiError::TooLarge(oracle.config.metering.max_request_bytes as u64).into());
    }
    let header_len = match req.headers().get(HEADER_LEN) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    ApiError::BadRequest("Inference-Header-Content-Length is not a number".into())
                })?,
        ),
    };
    // Acknowledged billing: an acknowledgement riding on the call counts (durably) before it.
    if let Some(v) = req.headers().get(ACK_HEADER) {
        let v = v
            .to_str()
            .map_err(|_| ApiError::BadRequest(format!("header {ACK_HEADER} is not ASCII")))?;
        let ack = imo_oracle::acks::SignedAck::from_header(caller.0.address, v)?;
        oracle.billing.acknowledge(&caller.0, ack).await?;
    }
    let body = read_body(oracle, body).await?;
    let read = started.elapsed();
    let mark = std::time::Instant::now();
    let mut parsed = oip::parse_infer_request(&body, header_len)
        .map_err(|e| ApiError::BadRequest(e.message()))?;
    let decode = mark.elapsed();
    let wanted: Vec<String> = parsed.outputs.iter().map(|o| o.name.clone()).collect();
    let call = InferCall {
        model: name,
        version,
        // The inputs move into the call; `parsed` keeps the id and the output options.
        inputs: std::mem::take(&mut parsed.inputs),
        outputs: wanted,
    };
    let outcome = oracle.inference.infer(&caller.0, call).await?;

    let mark = std::time::Instant::now();
    let receipt_json = serde_json::to_string(&outcome.receipt).expect("receipt serializes");
    let mut parameters = serde_json::Map::new();
    parameters.insert("imo_receipt_id".into(), outcome.receipt.id.clone().into());
    parameters.insert("imo_receipt".into(), receipt_json.clone().into());
    parameters.insert(
        "imo_receipt_signature".into(),
        outcome.receipt.signature.clone().into(),
    );
    let outputs = outcome
        .outputs
        .into_iter()
        .map(|t| {
            let binary = oip::wants_binary(&parsed, t.name());
            (t, binary)
        })
        .collect();
    let response = oip::InferResponse {
        model_name: outcome.model_name,
        model_version: Some(outcome.model_version),
        id: parsed.id.clone(),
        parameters,
        outputs,
    };
    let (bytes, json_len) = oip::encode_infer_response(&response);
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let timing = format!(
        "auth;dur={:.3}, read;dur={:.3}, decode;dur={:.3}, {}, encode;dur={:.3}, infer;dur={:.3}, total;dur={:.3}",
        ms(auth),
        ms(read),
        ms(decode),
        outcome.steps.server_timing(),
        ms(mark.elapsed()),
        ms(outcome.run_time),
        ms(auth + started.elapsed())
    );
    let mut resp = HttpResponse::Ok();
    resp.insert_header(("server-timing", timing));
    resp.insert_header(("imo-receipt-id", outcome.receipt.id.as_str()))
        .insert_header(("imo-receipt", receipt_json));
    match json_len {
        Some(n) => resp
            .insert_header((HEADER_LEN, n.to_string()))
            .content_type("application/octet-stream"),
        None => resp.content_type("application/json"),
    };
    Ok(resp.body(bytes))
}

/// Run a metered inference.
///
/// Body: the protocol's JSON request, optionally followed by binary tensor data (Triton's
/// binary extension; the JSON length goes in `Inference-Header-Content-Length`). The price of
/// the model is debited from the caller's prepaid balance; failed calls are not charged.
#[utoipa::path(post, path = "/v2/models/{name}/infer", tag = "inference", params(("name" = String, Path)),
    request_body(content = oip::InferRequestDoc, content_type = "application/json", description = "inference request (JSON, optionally followed by binary tensor data)"),
    responses(
        (status = 200, description = "outputs, with the signed receipt in `parameters`", body = oip::InferResponseDoc),
        (status = 400, description = "bad request: names the offending tensor; or the model refused the input at run time (`inference_rejected`): nothing charged", body = V2ErrorBody),
        (status = 401, body = V2ErrorBody),
        (status = 402, description = "insufficient balance or spending cap, or (`acknowledgement_required`, acknowledged billing) the client's unacknowledged spend would pass the credit window: headers `imo-ack-epoch`, `imo-ack-amount`, `imo-ack-calls` say what to acknowledge; no inference ran", body = V2ErrorBody),
        (status = 404, body = V2ErrorBody),
        (status = 409, description = "chain mode: the model is not tokenized or has no price; or the `imo-acknowledgement` header holds an acknowledgement older than the stored one (`acknowledgement_stale`)", body = V2ErrorBody),
        (status = 410, description = "the model is deactivated", body = V2ErrorBody),
        (status = 413, body = V2ErrorBody),
        (status = 422, description = "the call needs more than the model's memory budget or time limit (`resource_limit_exceeded`): nothing charged", body = V2ErrorBody),
        (status = 500, description = "the service failed to run the model: nothing charged", body = V2ErrorBody),
        (status = 503, description = "the model's worker ended or is unhealthy, the epoch closed while the call ran, or the database is down: nothing charged", body = V2ErrorBody),
    ),
    security(("api_key" = [])))]
#[post("/v2/models/{name}/infer")]
#[tracing::instrument(skip_all, fields(caller, model = %name))]
pub async fn infer(
    oracle: web::Data<Oracle>,
    caller: V2Caller,
    req: HttpRequest,
    name: web::Path<String>,
    body: web::Payload,
) -> V2Result<HttpResponse> {
    infer_impl(&oracle, caller, req, name.into_inner(), None, body).await
}

/// Run a metered inference on one model version.
#[utoipa::path(post, path = "/v2/models/{name}/versions/{version}/infer", tag = "inference",
    params(("name" = String, Path), ("version" = String, Path)),
    request_body(content = oip::InferRequestDoc, content_type = "application/json"),
    responses(
        (status = 200, body = oip::InferResponseDoc),
        (status = 400, body = V2ErrorBody), (status = 401, body = V2ErrorBody),
        (status = 402, body = V2ErrorBody), (status = 404, body = V2ErrorBody),
        (status = 409, body = V2ErrorBody), (status = 410, body = V2ErrorBody),
        (status = 413, body = V2ErrorBody), (status = 422, body = V2ErrorBody),
        (status = 500, body = V2ErrorBody), (status = 503, body = V2ErrorBody)),
    security(("api_key" = [])))]
#[post("/v2/models/{name}/versions/{version}/infer")]
#[tracing::instrument(skip_all, fields(caller, model = %path.0))]
pub async fn infer_version(
    oracle: web::Data<Oracle>,
    caller: V2Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> V2Result<HttpResponse> {
    let (name, version) = path.into_inner();
    infer_impl(&oracle, caller, req, name, Some(version), body).await
}
