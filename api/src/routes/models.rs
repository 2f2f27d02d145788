//! `/v1/models`: upload, list, get, update, deactivate, weights and their proofs.

use actix_web::{HttpRequest, HttpResponse, get, http::header, patch, post, web};
use futures_util::StreamExt;
use imo_oracle::{
    Oracle,
    registry::{ModelFilter, ModelPatch, NewModel, Registration},
    types::{BoundedText, Wei},
};

use imo_client::dto::*;

use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::{Caller, JsonBody},
    map::{self, IntoDto},
};

/// Upload and register an ONNX model.
///
/// The request body is the raw `.onnx` file (`Content-Type: application/octet-stream`); its
/// metadata is in the query string. The file is streamed to disk, validated by loading it in
/// ONNX Runtime, and its weights are committed (`weights_root`). Models must be self-contained:
/// weights stored as external data are rejected.
///
/// Uploading weights that are already registered is idempotent: if they are yours, the response
/// is `200` with the existing model, unchanged (the new upload's name, price and description
/// are ignored, and nothing new is stored); if another publisher registered them, `409`.
#[utoipa::path(
    post, path = "/v1/models", tag = "models",
    params(UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the ONNX file"),
    responses(
        (status = 201, description = "registered", body = ModelView),
        (status = 200, description = "these weights were already registered by you: the existing model", body = ModelView),
        (status = 400, description = "bad metadata", body = ErrorBody),
        (status = 401, description = "missing or invalid API key", body = ErrorBody),
        (status = 403, description = "not a publisher key", body = ErrorBody),
        (status = 409, description = "name taken, or weights registered by another publisher", body = ErrorBody),
        (status = 413, description = "file larger than the configured limit", body = ErrorBody),
        (status = 415, description = "body is not application/octet-stream", body = ErrorBody),
        (status = 422, description = "not a valid, self-contained ONNX model", body = ErrorBody),
        (status = 503, description = "database unavailable", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/models")]
#[tracing::instrument(skip_all, fields(caller))]
pub async fn upload(
    oracle: web::Data<Oracle>,
    caller: Caller,
    req: HttpRequest,
    params: web::Query<UploadParams>,
    mut body: web::Payload,
) -> ApiResult<HttpResponse> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/octet-stream") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "upload the ONNX file as `Content-Type: application/octet-stream` (got `{ct}`)"
        )));
    }
    let params = params.into_inner();
    let meta = NewModel {
        name: params.name.0,
        price: params.price_wei.map_or(Wei(0), |w| w.0),
        description: params
            .description
            .map_or_else(|| BoundedText::parse("description", "", 2000), |d| Ok(d.0))?,
        version: params
            .version
            .map_or_else(|| BoundedText::parse("version", "1", 64), |v| Ok(v.0))?,
    };
    let limit = oracle.config.storage.max_upload_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(imo_oracle::OracleError::PayloadTooLarge { limit }.into());
    }
    if declared == Some(0) {
        return Err(imo_oracle::OracleError::InvalidModel("the upload is empty".into()).into());
    }

    let mut staged = oracle.registry.store().stage(limit).await?;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(ApiError::body)?;
        staged.write(&chunk).await?;
    }
    let staged = staged.finish().await?;
    if staged.len == 0 {
        return Err(imo_oracle::OracleError::InvalidModel("the upload is empty".into()).into());
    }

    Ok(
        match oracle.registry.register(&caller.0, meta, staged).await? {
            Registration::Created(m) => HttpResponse::Created()
                .insert_header((header::LOCATION, format!("/v1/models/{}", m.id)))
                .json(m.into_dto()),
            Registration::Existing(m) => HttpResponse::Ok().json(m.into_dto()),
        },
    )
}

/// List models (public). Ordered by id, i.e. by registration time.
#[utoipa::path(
    get, path = "/v1/models", tag = "models", params(ListParams),
    responses((status = 200, body = ModelList), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody))
)]
#[get("/v1/models")]
pub async fn list(
    oracle: web::Data<Oracle>,
    q: web::Query<ListParams>,
) -> ApiResult<web::Json<ModelList>> {
    let q = q.into_inner();
    let limit = q.limit.map_or(100, |l| l.0);
    let filter = ModelFilter {
        publisher: q.publisher.map(|a| a.0),
        include_inactive: q.include_inactive,
        after: q.after,
        limit,
    };
    let models = oracle.registry.list(&filter).await?;
    let next = (models.len() as u64 == limit)
        .then(|| models.last().map(|m| m.id.clone()))
        .flatten();
    // The token's state shows in listings (chain mode).
    let tokens = match &oracle.chain {
        Some(c) => c.tokens.states().await?,
        None => Default::default(),
    };
    Ok(web::Json(ModelList {
        models: models
            .into_iter()
            .map(|m| {
                let token = tokens.get(&m.id).map(|t| t.as_str().to_owned());
                let mut v = m.into_dto();
                v.token_state = token;
                v
            })
            .collect(),
        next,
    }))
}

/// Get a model by id or by name (public).
#[utoipa::path(
    get, path = "/v1/models/{id}", tag = "models",
    params(("id" = String, Path, description = "model id (`mdl_…`) or name")),
    responses((status = 200, body = ModelView), (status = 404, body = ErrorBody))
)]
#[get("/v1/models/{id}")]
pub async fn get(
    oracle: web::Data<Oracle>,
    id: web::Path<String>,
) -> ApiResult<web::Json<ModelView>> {
    Ok(web::Json(oracle.registry.get(&id).await?.into_dto()))
}

/// Change a model's price or description. Only its publisher (or an admin) may.
#[utoipa::path(
    patch, path = "/v1/models/{id}", tag = "models",
    params(("id" = String, Path, description = "model id or name")),
    request_body = ModelPatchRequest,
    responses(
        (status = 200, body = ModelView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
#[patch("/v1/models/{id}")]
#[tracing::instrument(skip_all, fields(caller, model = %id))]
pub async fn update(
    oracle: web::Data<Oracle>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<ModelPatchRequest>,
) -> ApiResult<web::Json<ModelView>> {
    let body = body.into_inner();
    let patch = ModelPatch {
        price: body.price_wei.map(|w| w.0),
        description: body.description.map(|d| d.0),
    };
    Ok(web::Json(
        oracle
            .registry
            .update(&caller.0, &id, patch)
            .await?
            .into_dto(),
    ))
}

/// Deactivate a model: it can no longer be served. Its record, name and commitment remain.
#[utoipa::path(
    post, path = "/v1/models/{id}/deactivate", tag = "models",
    params(("id" = String, Path, description = "model id or name")),
    responses(
        (status = 200, body = ModelView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
#[post("/v1/models/{id}/deactivate")]
#[tracing::instrument(skip_all, fields(caller, model = %id))]
pub async fn deactivate(
    oracle: web::Data<Oracle>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<ModelView>> {
    Ok(web::Json(
        oracle.registry.deactivate(&caller.0, &id).await?.into_dto(),
    ))
}

/// The committed weight tensors, in commitment order (public).
#[utoipa::path(
    get, path = "/v1/models/{id}/weights", tag = "models",
    params(("id" = String, Path, description = "model id or name")),
    responses((status = 200, body = WeightList), (status = 404, body = ErrorBody))
)]
#[get("/v1/models/{id}/weights")]
pub async fn weights(
    oracle: web::Data<Oracle>,
    id: web::Path<String>,
) -> ApiResult<web::Json<WeightList>> {
    let (model, tensors) = oracle.registry.weights(&id).await?;
    Ok(web::Json(WeightList {
        weights_root: model.weights_root,
        tensors: tensors
            .into_iter()
            .enumerate()
            .map(|(i, t)| map::weight_tensor(i, t))
            .collect(),
    }))
}

/// Inclusion proof of one weight tensor against the model's `weights_root` (public).
#[utoipa::path(
    get, path = "/v1/models/{id}/weights/{index}/proof", tag = "models",
    params(("id" = String, Path, description = "model id or name"), ("index" = u32, Path, description = "tensor index", minimum = 0, maximum = 2147483647)),
    responses((status = 200, body = WeightProofView), (status = 404, body = ErrorBody))
)]
#[get("/v1/models/{id}/weights/{index}/proof")]
pub async fn weight_proof(
    oracle: web::Data<Oracle>,
    path: web::Path<(String, u32)>,
) -> ApiResult<web::Json<WeightProofView>> {
    let (id, index) = path.into_inner();
    Ok(web::Json(
        oracle
            .registry
            .weight_proof(&id, index as usize)
            .await?
            .into_dto(),
    ))
}
