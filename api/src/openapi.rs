//! The OpenAPI document, generated from the handlers and DTOs. Committed at `api/openapi.json`;
//! a test fails when the two drift (regenerate with `make openapi`).

use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use imo_client::dto;

use crate::{error, routes};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "imo-oracle",
        description = "Initial Model Offerings oracle: register ONNX models, meter their use, pay their token holders.",
        license(name = "Apache-2.0")
    ),
    paths(
        routes::models::upload, routes::models::list, routes::models::get, routes::models::update,
        routes::models::deactivate, routes::models::weights, routes::models::weight_proof,
        routes::auth::nonce, routes::auth::siwe, routes::auth::create_key, routes::auth::revoke_key,
        routes::auth::whoami,
        routes::metering::receipt, routes::metering::receipts, routes::metering::balance,
        routes::metering::credit, routes::metering::usage, routes::metering::operator,
        routes::billing::billing, routes::billing::billing_mode, routes::billing::acknowledge,
        routes::chain::contracts, routes::chain::transactions, routes::chain::tokenize, routes::chain::token, routes::chain::spending_cap,
        routes::chain::receipt_proof, routes::chain::epoch, routes::chain::revenue,
        routes::chain::claimable, routes::chain::timeline,
        routes::v2::server_metadata, routes::v2::live, routes::v2::ready, routes::v2::model_metadata,
        routes::v2::model_version_metadata, routes::v2::model_ready, routes::v2::model_version_ready,
        routes::v2::infer, routes::v2::infer_version,
        routes::ops::healthz, routes::ops::readyz, routes::ops::metrics,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail, error::V2ErrorBody, dto::ModelView)),
    modifiers(&ApiKeyAuth, &CommonResponses),
    tags(
        (name = "models", description = "Model registry: upload, commitments, metadata"),
        (name = "auth", description = "API keys and Sign-In with Ethereum"),
        (name = "ops", description = "Health, readiness, metrics"),
        (name = "metering", description = "Receipts, balances, usage"),
        (name = "chain", description = "Tokens, spending caps, receipt proofs, epochs, revenue, claims"),
        (name = "inference", description = "Open Inference Protocol v2 (KServe v2 / Triton HTTP), metered"),
    )
)]
pub struct ApiDoc;

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("imo_<64 hex>")
                    .build(),
            ),
        );
    }
}

/// Declares, on every operation, the statuses the shared machinery can return, so that each
/// route documents everything it can answer: a request body can be malformed (400), too slow
/// (408), too large (413) or of the wrong type (415); a path or query value can be unparsable
/// (400); a secured route can be called without a valid key (401); and any route that reaches
/// the database or a model can fail for reasons of the service (500, 503). `/v2` routes answer
/// errors in the protocol's `{"error": "…"}` shape.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        /// Routes that never touch the database or a model.
        const NO_DEPENDENCIES: [&str; 4] = ["/healthz", "/metrics", "/v2", "/v2/health/live"];
        for (path, item) in doc.paths.paths.iter_mut() {
            let schema = if path.starts_with("/v2") {
                "V2ErrorBody"
            } else {
                "ErrorBody"
            };
            let response = |description: &str| {
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(schema)))
                            .build(),
                    )
                    .build()
            };
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let mut add = |code: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| response(description).into());
                };
                let has_body = op.request_body.is_some();
                let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                if has_body {
                    add("400", "malformed request body");
                    add("408", "the request body did not arrive in time");
                    add("413", "request body too large");
                    // The inference routes read any Content-Type, as Triton does.
                    if !path.ends_with("/infer") {
                        add("415", "wrong Content-Type");
                    }
                }
                if path.starts_with("/v2/models/{name}") && path.ends_with("/ready") {
                    add("410", "the model is deactivated");
                }
                if has_params {
                    add("400", "a path or query value cannot be parsed");
                }
                if secured {
                    add("401", "missing or invalid API key");
                }
                if !NO_DEPENDENCIES.contains(&path.as_str()) {
                    add("500", "internal error");
                    add(
                        "503",
                        "a dependency (database, chain, model worker) is unavailable",
                    );
                }
            }
        }
    }
}

/// The routes of the document as (segments, methods), for answering 405 on a known path with
/// another method. A `{param}` segment matches any one segment.
pub fn route_table() -> &'static [(Vec<String>, Vec<&'static str>)] {
    static TABLE: std::sync::OnceLock<Vec<(Vec<String>, Vec<&'static str>)>> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        document()
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path.split('/').map(str::to_owned).collect();
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, has)| has.then_some(m))
                .collect();
                (segments, methods)
            })
            .collect()
    })
}

/// The methods the document declares for a concrete request path (empty: unknown path).
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = vec![];
    for (template, methods) in route_table() {
        let matches = template.len() == segments.len()
            && template
                .iter()
                .zip(&segments)
                .all(|(t, s)| (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s);
        if matches {
            out.extend(methods.iter().copied());
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The document as served and committed (API version `v1`, independent of the crate version).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = "v1".into();
    doc
}

/// The committed form: pretty JSON with a trailing newline.
pub fn render() -> String {
    let mut s = document().to_pretty_json().expect("OpenAPI serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_spec_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == super::render(),
            "api/openapi.json is out of date with the code: run `make openapi` and commit the result"
        );
    }
}
