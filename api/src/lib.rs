//! imo-oracle's HTTP layer: the actix-web application and its lifecycle ([`app::App`]), the
//! routes, the one mapping of domain records to DTOs ([`map`]) and of domain errors to HTTP
//! ([`error`]), the OpenAPI document, the Open Inference Protocol codec, config loading and the
//! `imo` command line ([`cli`]). The API's types and the typed client live in `imo-client`.

pub mod app;
pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod grpc;
pub mod limits;
pub mod map;
pub mod oip;
pub mod openapi;
pub mod routes;
pub mod server;
pub mod telemetry;
