//! Operations: liveness, readiness, Prometheus metrics, OpenAPI.

use actix_web::{HttpResponse, get, web};
use imo_oracle::Oracle;
use metrics_exporter_prometheus::PrometheusHandle;

use imo_client::dto::Health;

use crate::error::{ApiResult, ErrorBody};

/// Liveness: the process is up and answering.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
#[get("/readyz")]
pub async fn readyz(oracle: web::Data<Oracle>) -> ApiResult<web::Json<Health>> {
    imo_oracle::db::ping(&oracle.db).await?;
    Ok(web::Json(Health {
        status: "ready".into(),
    }))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}
