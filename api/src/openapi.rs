//! The OpenAPI document, generated from the handlers and DTOs. Committed at `api/openapi.json`;
//! a test fails when the two drift (regenerate with `make openapi`).

use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{dto, error, routes};

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
        routes::chain::contracts, routes::chain::transactions, routes::chain::tokenize, routes::chain::token, routes::chain::spending_cap,
        routes::chain::receipt_proof, routes::chain::epoch, routes::chain::revenue,
        routes::chain::claimable,
        routes::v2::server_metadata, routes::v2::live, routes::v2::ready, routes::v2::model_metadata,
        routes::v2::model_version_metadata, routes::v2::model_ready, routes::v2::model_version_ready,
        routes::v2::infer, routes::v2::infer_version,
        routes::ops::healthz, routes::ops::readyz, routes::ops::metrics,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail, dto::ModelView)),
    modifiers(&ApiKeyAuth),
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
