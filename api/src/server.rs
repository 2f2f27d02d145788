//! The actix-web application and server.

use std::{net::SocketAddr, sync::OnceLock, time::Instant};

use actix_web::{
    App, HttpRequest, HttpResponse, HttpServer,
    dev::{ServerHandle, Service},
    http::header,
    web,
};
use imo_oracle::{Oracle, OracleError};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_actix_web::TracingLogger;
use utoipa_swagger_ui::SwaggerUi;

use crate::{error::ApiError, extract, openapi, routes};

/// The process-wide Prometheus recorder (there can be only one per process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ])
                .expect("static buckets")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(OracleError::NotFound {
        what: format!("route {} {}", req.method(), req.path()),
    }
    .into())
}

/// Registers every route on an actix `ServiceConfig` (shared by the server and tests).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(routes::ops::healthz)
        .service(routes::ops::readyz)
        .service(routes::ops::metrics)
        .service(routes::models::upload)
        .service(routes::models::list)
        .service(routes::models::get)
        .service(routes::models::update)
        .service(routes::models::deactivate)
        .service(routes::models::weights)
        .service(routes::models::weight_proof)
        .service(routes::auth::nonce)
        .service(routes::auth::siwe)
        .service(routes::auth::create_key)
        .service(routes::auth::revoke_key)
        .service(routes::auth::whoami)
        .service(routes::metering::receipt)
        .service(routes::metering::receipts)
        .service(routes::metering::balance)
        .service(routes::metering::credit)
        .service(routes::metering::usage)
        .service(routes::metering::operator)
        .service(routes::chain::contracts)
        .service(routes::chain::transactions)
        .service(routes::chain::tokenize)
        .service(routes::chain::token)
        .service(routes::chain::spending_cap)
        .service(routes::chain::receipt_proof)
        .service(routes::chain::epoch)
        .service(routes::chain::revenue)
        .service(routes::chain::claimable)
        .service(routes::v2::server_metadata)
        .service(routes::v2::live)
        .service(routes::v2::ready)
        .service(routes::v2::model_metadata)
        .service(routes::v2::model_version_metadata)
        .service(routes::v2::model_ready)
        .service(routes::v2::model_version_ready)
        .service(routes::v2::infer)
        .service(routes::v2::infer_version)
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi::document()))
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header((header::LOCATION, "/docs/"))
                    .finish()
            }),
        );
}

/// A server that is listening.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub handle: ServerHandle,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, and waits for the server to end.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}

/// Binds and starts the HTTP server. With `signals`, SIGINT/SIGTERM stop it gracefully.
pub fn start(oracle: Oracle, signals: bool) -> std::io::Result<RunningServer> {
    let cfg = oracle.config.server.clone();
    let metrics = metrics_handle();
    let data = web::Data::new(oracle);
    let metrics_data = web::Data::new(metrics);
    let json_cfg = web::JsonConfig::default()
        .limit(cfg.max_json_bytes)
        .error_handler(extract::json_error);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(metrics_data.clone())
            .app_data(json_cfg.clone())
            .app_data(web::QueryConfig::default().error_handler(extract::query_error))
            .app_data(web::PathConfig::default().error_handler(extract::path_error))
            .wrap_fn(|req, srv| {
                let start = Instant::now();
                let method = req.method().to_string();
                let fut = srv.call(req);
                async move {
                    let res = fut.await?;
                    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
                    let status = res.status().as_u16().to_string();
                    metrics::counter!("imo_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
                    metrics::histogram!("imo_http_request_duration_seconds", "method" => method, "route" => route)
                        .record(start.elapsed().as_secs_f64());
                    Ok(res)
                }
            })
            .wrap(TracingLogger::default())
            .configure(configure)
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(cfg.shutdown_timeout_secs);
    if cfg.workers > 0 {
        server = server.workers(cfg.workers);
    }
    if !signals {
        server = server.disable_signals();
    }
    let server = server.bind(cfg.bind)?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .expect("bound to one address");
    let server = server.run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(RunningServer { addr, handle, task })
}
