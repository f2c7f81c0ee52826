//! User Profile Service: profiles, addresses and preferences of the shop's users, over REST.
//!
//! - `config`    the typed configuration, read once
//! - `cli`       the command line: serve, migrate, token, openapi, healthcheck
//! - `server`    start-up, serving and graceful shutdown
//! - `telemetry` logging, and the export of traces over OTLP
//! - `clock`     the wall clock: UTC now in milliseconds, and Unix seconds for tokens
//! - `request_id` the id of the request being served, for problem bodies and audit events
//! - `trace_context` the W3C trace context of the request being served, and the one outgoing calls carry
//! - `state`     what handlers share
//! - `domain`    resources and their validation rules
//! - `service`   business operations: one function per thing a caller does (transaction, rules, audit, cache)
//! - `db`        storage on SQLite or PostgreSQL
//! - `cache`     optional Redis read-through cache
//! - `outbox`    the change feed's background work: positions, retention, the NATS JetStream relay
//! - `rate_limit` per-caller request budgets, counted in Redis or in process
//! - `auth`      who is calling: token verification and access policy
//! - `http`      the router, extractors, middleware, errors and one module per resource

pub mod auth;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod http;
pub mod outbox;
pub mod rate_limit;
pub mod request_id;
pub mod server;
pub mod service;
pub mod state;
pub mod telemetry;
pub mod trace_context;
