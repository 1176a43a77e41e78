//! What one plugin may consume: memory and time per call, its key-value
//! store, the host's log, and how much one call may hand back. Each has a
//! host default; a manifest may ask for another value (up to the host's
//! maximum), and the admin may only lower it. Exceeding a limit fails that
//! call (logs: the excess is dropped and counted); the host and the other
//! plugins are not affected.

use serde::Serialize;

use crate::config::{LimitOverrides, RuntimeConfig};

use super::manifest::ManifestLimits;

/// The limits in effect for one loaded plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Limits {
    /// Memory per call, MiB.
    pub memory_mb: u32,
    /// Deadline per call (guest code and time blocked in host calls alike:
    /// clocks, polls, outbound HTTP), ms.
    pub timeout_ms: u64,
    /// Keys in its key-value store.
    pub kv_keys: u64,
    /// Bytes of keys and values in its key-value store.
    pub kv_bytes: u64,
    /// Log lines one call may write; the rest are dropped.
    pub log_lines: u32,
    /// Longest log line kept, bytes; longer ones are cut.
    pub log_line_bytes: u32,
    /// Events one webhook may report.
    pub events: u32,
    /// Identities one webhook may report, over all its events.
    pub identities: u32,
    /// What one call may return (a webhook's response and events, a bot's
    /// answer, …), KiB.
    pub output_kb: u32,
}

/// A limit's host default and the most a manifest may ask for.
struct Bound<T> {
    default: T,
    max: T,
}

const KV_KEYS: Bound<u64> = Bound {
    default: 10_000,
    max: 1_000_000,
};
const KV_BYTES: Bound<u64> = Bound {
    default: 16 * 1024 * 1024,
    max: 256 * 1024 * 1024,
};
const LOG_LINES: Bound<u32> = Bound {
    default: 100,
    max: 1_000,
};
const LOG_LINE_BYTES: Bound<u32> = Bound {
    default: 4_096,
    max: 65_536,
};
const EVENTS: Bound<u32> = Bound {
    default: 100,
    max: 1_000,
};
const IDENTITIES: Bound<u32> = Bound {
    default: 100,
    max: 1_000,
};
const OUTPUT_KB: Bound<u32> = Bound {
    default: 1_024,
    max: 16 * 1_024,
};

/// The manifest's value (or the default), at most the maximum and what the
/// admin allows, at least 1.
fn pick<T: Ord + Copy + From<u8>>(asked: Option<T>, admin: Option<T>, bound: Bound<T>) -> T {
    let value = asked.unwrap_or(bound.default).min(bound.max);
    admin.map_or(value, |a| value.min(a)).max(T::from(1))
}

impl Limits {
    /// The limits of a plugin: what its manifest asks, lowered by the
    /// admin's `[plugins.<name>] limits` and the host's maximums.
    pub fn effective(
        manifest: &ManifestLimits,
        admin: &LimitOverrides,
        host: &RuntimeConfig,
    ) -> Limits {
        let memory = Bound {
            default: host.default_memory_mb,
            max: host.max_memory_mb,
        };
        let timeout = Bound {
            default: host.default_timeout_ms,
            max: host.max_timeout_ms,
        };
        Limits {
            memory_mb: pick(manifest.memory_mb, admin.memory_mb, memory),
            timeout_ms: pick(manifest.timeout_ms, admin.timeout_ms, timeout),
            kv_keys: pick(manifest.kv_keys, admin.kv_keys, KV_KEYS),
            kv_bytes: pick(manifest.kv_bytes, admin.kv_bytes, KV_BYTES),
            log_lines: pick(manifest.log_lines, admin.log_lines, LOG_LINES),
            log_line_bytes: pick(
                manifest.log_line_bytes,
                admin.log_line_bytes,
                LOG_LINE_BYTES,
            ),
            events: pick(manifest.events, admin.events, EVENTS),
            identities: pick(manifest.identities, admin.identities, IDENTITIES),
            output_kb: pick(manifest.output_kb, admin.output_kb, OUTPUT_KB),
        }
    }

    /// [`Limits::output_kb`] in bytes.
    pub fn output_bytes(&self) -> usize {
        self.output_kb as usize * 1024
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_ask_up_to_the_maximum_and_admins_only_lower() {
        let host = RuntimeConfig::default();
        let none = LimitOverrides::default();
        let defaults = Limits::effective(&ManifestLimits::default(), &none, &host);
        assert_eq!(defaults.memory_mb, host.default_memory_mb);
        assert_eq!(defaults.kv_keys, KV_KEYS.default);
        assert_eq!(defaults.events, EVENTS.default);

        let greedy = ManifestLimits {
            memory_mb: Some(u32::MAX),
            timeout_ms: Some(u64::MAX),
            kv_keys: Some(u64::MAX),
            events: Some(5),
            ..ManifestLimits::default()
        };
        let limits = Limits::effective(&greedy, &none, &host);
        assert_eq!(limits.memory_mb, host.max_memory_mb);
        assert_eq!(limits.timeout_ms, host.max_timeout_ms);
        assert_eq!(limits.kv_keys, KV_KEYS.max);
        assert_eq!(limits.events, 5);

        let admin = LimitOverrides {
            memory_mb: Some(8),
            events: Some(50),
            kv_keys: Some(0),
            ..LimitOverrides::default()
        };
        let limits = Limits::effective(&greedy, &admin, &host);
        assert_eq!(limits.memory_mb, 8);
        // The admin cannot raise the manifest's 5.
        assert_eq!(limits.events, 5);
        assert_eq!(limits.kv_keys, 1, "at least 1");
        assert_eq!(limits.output_bytes(), OUTPUT_KB.default as usize * 1024);
    }
}
