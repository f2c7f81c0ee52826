//! The one integration test binary: every suite drives the real router over a fresh database.

mod addresses;
mod auth;
mod auth_remote;
mod cache;
mod conventions;
mod health;
mod openapi;
mod operations;
mod profiles;
mod replica;
mod service_reads;
mod support;
