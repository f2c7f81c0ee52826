//! The one integration test binary: every suite drives the real router over a fresh database.

mod auth;
mod cache;
mod conventions;
mod health;
mod openapi;
mod profiles;
mod replica;
mod support;
