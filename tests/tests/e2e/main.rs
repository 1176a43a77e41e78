//! Switchboard end to end: real HTTP over loopback, real sled directories,
//! real compiled plugins and mock providers, in one test binary with a
//! module per area.
//!
//! Run one area by its module path, e.g. `cargo test --test e2e routing::`;
//! one test by its name, e.g. `cargo test --test e2e routing::wrap_up`. The
//! browser test is ignored by default (it needs Chromium and Node.js):
//! `cargo test --test e2e browser:: -- --ignored --nocapture`.

mod admin_api;
mod bots;
mod browser;
mod channels;
mod compliance;
mod contract;
mod crm;
mod customers;
mod email;
mod example_plugin;
mod feeds;
mod files;
mod floor;
mod hardening;
mod history;
mod hot_reload;
mod hours;
mod journeys;
mod memory;
mod outreach;
mod reports;
mod routing;
mod sandbox;
mod sessions;
mod signing;
mod story;
mod surveys;
mod trust;
mod ui_api;
mod voice;
mod waiting;
mod webchat;
