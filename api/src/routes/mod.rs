pub mod auth;
pub mod metering;
pub mod models;
pub mod ops;
pub mod v2;
