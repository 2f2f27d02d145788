//! The actix-web application and server.

use std::{
    net::SocketAddr,
    sync::OnceLock,
    time::{Duration, Instant},
};

use actix_web::{
    App, HttpRequest, HttpResponse, HttpServer,
    dev::{ServerHandle, Service},
    http::header,
    web,
};
use imo_oracle::{Oracle, OracleError};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_actix_web::TracingLogger;
use utoipa_swagger_ui::SwaggerUi;

use crate::{error::ApiError, extract, limits, openapi, routes};

/// Buckets of every `*_seconds` histogram: from 10 µs (a call's overhead is well under a
/// millisecond, and its p50 must be readable from `/metrics`) to 10 s.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0025,
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Buckets of `imo_ledger_batch_size` (receipts per ledger commit).
pub const BATCH_SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// The process-wide Prometheus recorder (there can be only one per process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .expect("static buckets")
                .set_buckets_for_metric(
                    Matcher::Full("imo_ledger_batch_size".into()),
                    BATCH_SIZE_BUCKETS,
                )
                .expect("static buckets")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed = openapi::allowed_methods(req.path());
    if !allowed.is_empty() {
        return Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allowed,
        });
    }
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
        .service(routes::billing::billing)
        .service(routes::billing::billing_mode)
        .service(routes::billing::acknowledge)
        .service(routes::chain::contracts)
        .service(routes::chain::transactions)
        .service(routes::chain::tokenize)
        .service(routes::chain::token)
        .service(routes::chain::spending_cap)
        .service(routes::chain::receipt_proof)
        .service(routes::chain::epoch)
        .service(routes::chain::revenue)
        .service(routes::chain::claimable)
        .service(routes::chain::timeline)
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
    routes::app::configure(cfg);
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

/// Binds and starts the HTTP server (signals are the [`crate::app::App`]'s to handle).
pub fn start(oracle: Oracle) -> std::io::Result<RunningServer> {
    let cfg = oracle.config.server.clone();
    let upload_timeout = Duration::from_secs(oracle.config.storage.upload_timeout_secs.max(1));
    let metrics = metrics_handle();
    let workers = if cfg.workers > 0 {
        cfg.workers
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    };
    // Every connection is a file descriptor: use all the process may have, and stay under it.
    let fds = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let reserve = 512u64;
    let max_connections = if cfg.max_connections as u64 + reserve > fds {
        let fit = fds.saturating_sub(reserve).max(64) as usize;
        tracing::warn!(
            configured = cfg.max_connections,
            file_descriptors = fds,
            using = fit,
            "server.max_connections lowered to fit the file-descriptor limit"
        );
        fit
    } else {
        cfg.max_connections
    };
    let peers = limits::PeerTable::new(cfg.max_connections_per_peer);
    let body = limits::BodyDeadlines {
        idle: Duration::from_secs(cfg.body_idle_timeout_secs.max(1)),
        total: Duration::from_secs(cfg.body_timeout_secs.max(1)),
    };
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
            .wrap_fn(move |mut req, srv| {
                let deadlines = if req.method() == actix_web::http::Method::POST
                    && req.path() == "/v1/models"
                {
                    limits::BodyDeadlines {
                        idle: body.idle,
                        total: upload_timeout,
                    }
                } else {
                    body
                };
                let payload = actix_web::HttpMessage::take_payload(&mut req);
                req.set_payload(actix_web::dev::Payload::Stream {
                    payload: Box::pin(limits::TimedPayload::new(payload, deadlines)),
                });
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
    .shutdown_timeout(cfg.shutdown_timeout_secs)
    .workers(workers)
    .max_connections(max_connections.div_ceil(workers))
    .client_request_timeout(Duration::from_millis(cfg.header_timeout_ms.max(1)))
    .keep_alive(Duration::from_secs(cfg.keep_alive_secs))
    .on_connect(move |conn, ext| limits::on_connect(&peers, conn, ext));
    server = server.disable_signals();
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
