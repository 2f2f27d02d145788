//! imo-client: what a program needs to talk to an imo-oracle service and to the contracts it
//! settles on, without the service itself.
//!
//! * [`acks`] — acknowledged billing: check receipts, keep a record, sign acknowledgements;
//! * [`dto`] — the request and response bodies of the HTTP API, with their OpenAPI schemas
//!   (the service maps its domain records to these; nothing here knows the service's handlers);
//! * [`fields`] — request fields parsed as they are deserialized, with exact schemas;
//! * [`http`] — a typed client for the `/v1` API (and raw `/v2` calls);
//! * [`wallet`] — a participant's own wallet against the contracts (deposit, spending caps,
//!   withdrawals; token transfers, claims, burns).

pub mod acks;
pub mod dto;
pub mod fields;
pub mod http;
pub mod wallet;

pub use http::{Client, ClientError, Upload};
