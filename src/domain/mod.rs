//! Domain types and the rules that make a value valid; nothing here knows about HTTP handlers.

pub mod address;
pub mod address_format;
pub mod audit;
pub mod codes;
pub mod country;
pub mod currency;
pub mod event;
pub mod fields;
pub mod idempotency;
pub mod locale;
pub mod messages;
pub mod patch;
pub mod phone;
pub mod postal;
pub mod precondition;
pub mod preferences;
pub mod privacy;
pub mod profile;
pub mod regions;
pub mod rules;
pub mod text;
pub mod timezone;
pub mod validation;
