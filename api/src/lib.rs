//! imo-oracle's HTTP layer: the actix-web application, its OpenAPI document, the typed client
//! used by the `imo` CLI and the end-to-end tests, and config loading.

pub mod client;
pub mod config;
pub mod dto;
pub mod error;
pub mod extract;
pub mod limits;
pub mod oip;
pub mod openapi;
pub mod routes;
pub mod schema;
pub mod server;
pub mod telemetry;
