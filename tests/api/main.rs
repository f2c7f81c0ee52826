//! The one integration test binary: every suite drives the real router over a fresh database.

mod auth;
mod conventions;
mod health;
mod openapi;
mod operations;
mod profiles;
mod support;
