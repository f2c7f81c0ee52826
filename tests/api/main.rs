//! The one integration test binary: every suite drives the real router over a fresh database.

mod admin;
mod auth;
mod conventions;
mod health;
mod openapi;
mod preferences;
mod privacy;
mod profiles;
mod support;
