//! End-to-end tests of the HTTP API against the real server, real ONNX Runtime and real
//! models, each on SQLite and on PostgreSQL.

mod helpers;

mod acks;
mod auth;
mod chain;
mod cluster;
mod crash;
mod cycle;
mod dashboard;
mod dispute;
mod fuzz;
mod hostile;
mod inference;
mod lifecycle;
mod models;
mod ops;
mod tree;
mod tritonclient;
mod txm;
mod upload_errors;
