//! The plugin contract as Rust types: host-side bindings for the
//! `switchboard:plugin@0.1.0` worlds. The `plugin` world generates the shared
//! `types` and `host` interfaces once; each kind's world reuses them through
//! `with`, so a `Customer` is the same Rust type whichever plugin it goes to.
//!
//! A leaf: the domain modules convert their records to and from these types
//! (`Customer::to_wit`, `Attachment::from`, …) without importing the
//! runtime, which only runs the calls.

/// The imports every plugin gets, and the shared types.
pub mod plugin {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "plugin",
    });
}

/// `world router`.
pub mod router {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "router",
        with: {
            "switchboard:plugin/types": super::plugin::switchboard::plugin::types,
            "switchboard:plugin/host": super::plugin::switchboard::plugin::host,
        },
        exports: { default: async },
    });
}

/// `world channel`.
pub mod channel {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "channel",
        with: {
            "switchboard:plugin/types": super::plugin::switchboard::plugin::types,
            "switchboard:plugin/host": super::plugin::switchboard::plugin::host,
        },
        exports: { default: async },
    });
}

/// `world bot`.
pub mod bot {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "bot",
        with: {
            "switchboard:plugin/types": super::plugin::switchboard::plugin::types,
            "switchboard:plugin/host": super::plugin::switchboard::plugin::host,
        },
        exports: { default: async },
    });
}

/// `world crm`.
pub mod crm {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "crm",
        with: {
            "switchboard:plugin/types": super::plugin::switchboard::plugin::types,
            "switchboard:plugin/host": super::plugin::switchboard::plugin::host,
        },
        exports: { default: async },
    });
}

pub use bot::switchboard::plugin::botting;
pub use channel::switchboard::plugin::channeling;
pub use crm::switchboard::plugin::crm_sync;
pub use plugin::switchboard::plugin::{host, types};
pub use router::switchboard::plugin::routing;
