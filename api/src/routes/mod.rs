pub mod app;
pub mod auth;
pub mod billing;
pub mod chain;
pub mod metering;
pub mod models;
pub mod ops;
pub mod v2;
