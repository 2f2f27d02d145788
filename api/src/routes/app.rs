//! The web dashboard at `/app/`: the single-page app built from `web/` (`make build` runs
//! `scripts/build-web.sh`: `npm ci` + esbuild into `web/dist`), embedded in the binary by
//! `rust-embed`, so `imo serve` needs no other server and no files at run time.
//!
//! `api/build.rs` picks what is embedded: `web/dist` when it holds a build (cfg
//! `imo_dashboard`), else `api/web-fallback/`, one page saying the dashboard was not built,
//! served with 503 (and a cargo warning at build time, a log warning at start-up).
//!
//! Hashed assets (`/app/assets/*`) are cached for a year (`immutable`); everything else is
//! revalidated (`no-cache`) with an ETag (the file's SHA-256). Every response carries a
//! Content-Security-Policy that allows scripts, styles and connections to this origin only:
//! the page talks to the JSON API here and to the chain only through the injected wallet
//! (EIP-1193), never to another origin.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    middleware::Compress,
    web,
};
use imo_oracle::OracleError;

use crate::error::ApiError;

#[cfg(imo_dashboard)]
#[derive(rust_embed::Embed)]
#[folder = "../web/dist"]
struct Dist;

#[cfg(not(imo_dashboard))]
#[derive(rust_embed::Embed)]
#[folder = "web-fallback"]
struct Dist;

/// Whether this binary embeds a built dashboard (false: the "not built" page).
pub fn built() -> bool {
    cfg!(imo_dashboard)
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Registers `/app`, `/app/…` and the `/` redirect.
pub fn configure(cfg: &mut web::ServiceConfig) {
    static WARN: std::sync::Once = std::sync::Once::new();
    if !built() {
        WARN.call_once(|| {
            tracing::warn!(
                "the dashboard was not built into this binary: /app/ says so; run `make build` \
                 (scripts/build-web.sh) and rebuild"
            );
        });
    }
    cfg.service(get_and_head("/", to_app)).service(
        web::scope("/app")
            .wrap(Compress::default())
            .service(get_and_head("", to_app))
            .service(get_and_head("/{path:.*}", asset)),
    );
}

/// `path` answered by `handler` for GET and HEAD, 405 for any other method.
fn get_and_head<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(web::to(method_not_allowed))
}

async fn to_app() -> HttpResponse {
    HttpResponse::TemporaryRedirect()
        .insert_header((header::LOCATION, "/app/"))
        .finish()
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        allowed: vec!["GET", "HEAD"],
    })
}

/// `/app/{path}`: the embedded file (`index.html` for the bare `/app/`).
async fn asset(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let path = path.into_inner();
    let name = if path.is_empty() {
        "index.html"
    } else {
        path.as_str()
    };
    let not_found = || {
        ApiError::from(OracleError::NotFound {
            what: format!("dashboard file /app/{path}"),
        })
    };
    // No hidden files (e.g. web/dist/.gitkeep) and no path tricks.
    if name.split('/').any(|s| s.is_empty() || s.starts_with('.')) {
        return Err(not_found());
    }
    let file = Dist::get(name).ok_or_else(not_found)?;
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let status = if built() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut res = HttpResponse::build(status);
    let mime = file.metadata.mimetype();
    let content_type = if mime.starts_with("text/") || mime == "application/javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    let cache = if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    res.insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, etag.clone()))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh && built() {
        return Ok(res.status(StatusCode::NOT_MODIFIED).finish());
    }
    // For HEAD, actix sends the headers (with the body's length) and no body.
    Ok(res.body(file.data.into_owned()))
}
