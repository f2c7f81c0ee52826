//! The one integration test binary: every suite drives the real router over a fresh database.

mod addresses;
mod admin;
mod architecture;
mod auth;
mod auth_remote;
mod cache;
mod conventions;
mod data_limits;
mod docs;
mod exposure;
mod faults_sqlite;
mod health;
mod hostile_input;
mod idempotency;
mod input_properties;
mod limits;
mod openapi;
mod operations;
mod preferences;
mod privacy;
mod profiles;
mod replica;
mod service_reads;
mod sqlite_file;
mod support;
mod token_limits;
