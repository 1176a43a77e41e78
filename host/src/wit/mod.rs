//! The plugin contract as Rust types: host-side bindings for every version
//! of `switchboard:plugin` the host loads, side by side (as Zed's extension
//! host keeps one bindings module per contract version):
//!
//! - [`v0_4`] — the current contract (`wit/v0.4`). The domain speaks it:
//!   everything re-exported at this module's root is 0.4.
//! - [`v0_3`] — published and frozen (`wit/v0.3`). Components built for it
//!   are called through [`adapt_v0_3`], which turns its types into the
//!   current ones and back.
//! - [`v0_2`] — frozen (`wit/v0.2`): through [`adapt_v0_2`] (0.2 ↔ 0.3),
//!   then [`adapt_v0_3`].
//! - [`v0_1`] — the frozen first contract (`wit/v0.1`): through [`adapt`]
//!   (0.1 ↔ 0.2), then the two above. Each adapter knows only the version
//!   after its own.
//!
//! In each version the `plugin` world generates the shared `types` and
//! `host` interfaces once; each kind's world reuses them through `with`, so
//! a `Customer` is the same Rust type whichever plugin it goes to.
//!
//! A leaf: the domain modules convert their records to and from these types
//! (`Customer::to_wit`, `Attachment::from`, …) without importing the
//! runtime, which only runs the calls.

#[macro_use]
pub mod adapt;
pub mod adapt_v0_2;
pub mod adapt_v0_3;

/// The bindings of one contract version in `$path`.
macro_rules! contract {
    ($path:literal) => {
        /// The imports every plugin gets, and the shared types.
        pub mod plugin {
            wasmtime::component::bindgen!({
                path: $path,
                world: "plugin",
            });
        }

        /// `world router`.
        pub mod router {
            wasmtime::component::bindgen!({
                path: $path,
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
                path: $path,
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
                path: $path,
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
                path: $path,
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
    };
}

/// `switchboard:plugin@0.1.0`: frozen; loaded through [`adapt`].
pub mod v0_1 {
    contract!("../wit/v0.1");
}

/// `switchboard:plugin@0.2.0`: frozen; loaded through [`adapt_v0_2`].
pub mod v0_2 {
    contract!("../wit/v0.2");
}

/// `switchboard:plugin@0.3.x`: frozen; loaded through [`adapt_v0_3`].
pub mod v0_3 {
    contract!("../wit/v0.3");
}

/// `switchboard:plugin@0.4.x`: the current contract.
pub mod v0_4 {
    contract!("../wit/v0.4");

    /// `world automation` (new in 0.4.1: no older version has it).
    pub mod automation {
        wasmtime::component::bindgen!({
            path: "../wit/v0.4",
            world: "automation",
            with: {
                "switchboard:plugin/types": super::plugin::switchboard::plugin::types,
                "switchboard:plugin/host": super::plugin::switchboard::plugin::host,
            },
            exports: { default: async },
        });
    }

    pub use automation::switchboard::plugin::automating;
}

pub use v0_4::{
    automating, automation, bot, botting, channel, channeling, crm, crm_sync, host, plugin, router,
    routing, types,
};

/// A version of the plugin contract the host loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Contract {
    /// `switchboard:plugin@0.1.x`, through the adapter.
    V0_1,
    /// `switchboard:plugin@0.2.x`, through the adapter.
    V0_2,
    /// `switchboard:plugin@0.3.x`, through the adapter.
    V0_3,
    /// `switchboard:plugin@0.4.x`, the current one.
    V0_4,
}

impl Contract {
    /// Every version the host loads, oldest first.
    pub const ALL: [Contract; 4] = [
        Contract::V0_1,
        Contract::V0_2,
        Contract::V0_3,
        Contract::V0_4,
    ];

    /// The newest version: what the SDK builds and the domain speaks.
    pub const CURRENT: Contract = Contract::V0_4;

    /// `0.1`, `0.2`: how `api` in `plugin.toml` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Contract::V0_1 => "0.1",
            Contract::V0_2 => "0.2",
            Contract::V0_3 => "0.3",
            Contract::V0_4 => "0.4",
        }
    }

    /// Why plugins built for this version should be rebuilt, when it is
    /// in its last supported minor: a version stays loadable until two
    /// minors after it exist and for 12 months after its successor shipped
    /// (README, "Contract versions").
    pub fn deprecation(self) -> Option<&'static str> {
        match self {
            Contract::V0_1 => Some(
                "switchboard:plugin 0.1 is deprecated: it loads until 2027-12-01 at the earliest (12 months after 0.2 shipped); rebuild the plugin against the current SDK (0.4)",
            ),
            Contract::V0_2 => Some(
                "switchboard:plugin 0.2 is deprecated: it loads until 0.5 ships and 2027-12-01 at the earliest (12 months after 0.3 shipped); rebuild the plugin against the current SDK (0.4)",
            ),
            Contract::V0_3 | Contract::V0_4 => None,
        }
    }

    /// The version `api = "<major>.<minor>[.<patch>]"` names, if the host
    /// loads it.
    pub fn parse(api: &str) -> Option<Contract> {
        let mut parts = api.trim().split('.');
        let major_minor = (parts.next()?, parts.next()?);
        if parts.next().is_some_and(|p| p.parse::<u32>().is_err()) {
            return None;
        }
        Contract::ALL
            .into_iter()
            .find(|c| c.as_str().split_once('.') == Some(major_minor))
    }

    /// The version a component was built for, from the names of its
    /// imports (`switchboard:plugin/host@0.1.0`, …); `None` when it imports
    /// nothing of the contract.
    pub fn of_imports<'a>(imports: impl IntoIterator<Item = &'a str>) -> Option<Contract> {
        imports.into_iter().find_map(|name| {
            let version = name.strip_prefix("switchboard:plugin/")?.split_once('@')?.1;
            Contract::parse(version)
        })
    }
}

impl std::fmt::Display for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "switchboard:plugin@{}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_named_by_api_and_by_imports() {
        assert_eq!(Contract::parse("0.1"), Some(Contract::V0_1));
        assert_eq!(Contract::parse("0.2.3"), Some(Contract::V0_2));
        assert_eq!(Contract::parse("0.3"), Some(Contract::V0_3));
        assert_eq!(Contract::parse("0.4.0"), Some(Contract::V0_4));
        assert_eq!(Contract::parse("0.5"), None);
        assert_eq!(Contract::parse("1"), None);
        assert_eq!(
            Contract::of_imports(["wasi:io/streams@0.2.6", "switchboard:plugin/host@0.1.0"]),
            Some(Contract::V0_1)
        );
        assert_eq!(
            Contract::of_imports(["switchboard:plugin/types@0.2.0"]),
            Some(Contract::V0_2)
        );
        assert_eq!(Contract::of_imports(["wasi:cli/stdin@0.2.6"]), None);
        assert_eq!(Contract::V0_1.to_string(), "switchboard:plugin@0.1");
    }
}
