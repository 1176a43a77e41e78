//! Switchboard: an omnichannel contact center host. The host owns the unified
//! queue, the customer store and the routing core; every channel adapter, bot,
//! CRM connector and routing policy is a sandboxed WebAssembly component
//! loaded from the plugins directory and hot-reloaded when it changes.
//!
//! Data flows one way: [`api`] → [`core`] → ([`customers`],
//! [`conversations`], [`routing`]) → [`store`]; the core calls the
//! [`runtime`] through its typed calls. [`wit`], [`kind`], [`clock`] and
//! [`events`] are leaves any module may use. The layout test
//! (`layout.rs`) keeps it so.

pub mod accounts;
pub mod api;
pub mod attachments;
pub mod audit;
pub mod bundled;
pub mod canned;
pub mod clock;
pub mod config;
pub mod conversations;
pub mod core;
pub mod customers;
pub mod events;
pub mod feeds;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod hours;
pub mod kind;
#[cfg(test)]
mod layout;
pub mod redaction;
pub mod routing;
pub mod runtime;
pub mod server;
pub mod signing;
pub mod store;
pub mod surveys;
pub mod wit;
