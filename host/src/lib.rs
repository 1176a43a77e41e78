//! Switchboard: an omnichannel contact center host. The host owns the unified
//! queue, the customer store and the routing core; every channel adapter, bot,
//! CRM connector and routing policy is a sandboxed WebAssembly component
//! loaded from the plugins directory and hot-reloaded when it changes.
//!
//! Data flows one way: [`api`] → core → [`store`]; the core calls the
//! [`runtime`] through its narrow typed functions.

pub mod api;
pub mod bots;
pub mod bundled;
pub mod config;
pub mod conversations;
pub mod core;
pub mod crm;
pub mod customers;
pub mod events;
pub mod outbox;
pub mod routing;
pub mod runtime;
pub mod server;
pub mod store;
