//! The one integration test binary: every suite drives the real router over a fresh database.

mod addresses;
mod auth;
mod conventions;
mod health;
mod openapi;
mod profiles;
mod service_reads;
mod support;
