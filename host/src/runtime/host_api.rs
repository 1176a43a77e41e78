//! The Switchboard `host` interface every plugin imports: logging, its
//! config, the clock, its key-value store and customer look-ups — each
//! checked against the plugin's capabilities. One implementation serves the
//! current contract; components built for an older one get the same
//! functions through its adapter to the next (0.1 → 0.2 → 0.3 → 0.4).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::CustomerAccess;
use crate::store::{KvError, KvUsage, MAX_KV_KEY, MAX_KV_VALUE, PluginKv};
use crate::wit::adapt::Adapt;
use crate::wit::host::{self, HostError, LogLevel};
use crate::wit::types::{self, Customer, Identity, TimelineEntry};
use crate::wit::{v0_1, v0_2, v0_3};

use super::sandbox::{CustomerDirectory, PluginContext};

/// The Switchboard `host` interface, as seen by one call.
pub(crate) struct HostState {
    ctx: Arc<PluginContext>,
    violation: Option<String>,
    over_limit: Option<String>,
    log_lines: u32,
    /// Files kept by `keep-attachment` in this call.
    kept: u32,
}

/// Most files one call may keep (`keep-attachment`).
const MAX_KEPT_PER_CALL: u32 = 20;

impl HostState {
    /// The host functions for one call of the plugin in `ctx`.
    pub fn new(ctx: Arc<PluginContext>) -> Self {
        HostState {
            ctx,
            violation: None,
            over_limit: None,
            log_lines: 0,
            kept: 0,
        }
    }

    /// Ready for the next call of a warm instance: a fresh log budget, no
    /// recorded violation.
    pub fn rearm(&mut self) {
        self.violation = None;
        self.over_limit = None;
        self.log_lines = 0;
        self.kept = 0;
    }

    /// The limit the call went past, if it did.
    pub fn over_limit(&self) -> &Option<String> {
        &self.over_limit
    }

    /// The ungranted capability the call reached for, if it did.
    pub fn violation(&self) -> &Option<String> {
        &self.violation
    }

    /// Records the use of an ungranted capability: the guest gets a `denied`
    /// error, and the host fails the call when it returns.
    fn deny(&mut self, capability: &str) -> HostError {
        let message = format!("`{capability}` is not granted to this plugin");
        tracing::warn!(plugin = %self.ctx.name, version = %self.ctx.version, "{message}; call will fail");
        self.violation.get_or_insert(message.clone());
        HostError::Denied(message)
    }

    fn kv(&mut self) -> Result<PluginKv, HostError> {
        match (&self.ctx.kv, self.ctx.caps.kv) {
            (Some(kv), true) => Ok(kv.clone()),
            _ => Err(self.deny("kv")),
        }
    }

    fn customers(&mut self) -> Result<Arc<dyn CustomerDirectory>, HostError> {
        if self.ctx.caps.customers == CustomerAccess::Read {
            Ok(self.ctx.customers.clone())
        } else {
            Err(self.deny("customers"))
        }
    }
}

fn check_key(key: &str) -> Result<(), HostError> {
    if key.is_empty() || key.len() > MAX_KV_KEY {
        return Err(HostError::Invalid(format!(
            "keys must be 1-{MAX_KV_KEY} bytes"
        )));
    }
    Ok(())
}

fn unavailable(e: impl std::fmt::Display) -> HostError {
    HostError::Unavailable(e.to_string())
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, level: LogLevel, mut message: String) {
        self.log_lines += 1;
        let limits = &self.ctx.limits;
        if self.log_lines > limits.log_lines {
            self.ctx.logs_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let max_line = limits.log_line_bytes as usize;
        if message.len() > max_line {
            let mut cut = max_line;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let (plugin, version) = (&self.ctx.name, &self.ctx.version);
        match level {
            LogLevel::Trace => tracing::trace!(target: "plugin", %plugin, %version, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "plugin", %plugin, %version, "{message}"),
            LogLevel::Info => tracing::info!(target: "plugin", %plugin, %version, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "plugin", %plugin, %version, "{message}"),
            LogLevel::Error => tracing::error!(target: "plugin", %plugin, %version, "{message}"),
        }
    }

    fn config_get(&mut self, key: String) -> Option<String> {
        self.ctx.config.get(&key).cloned()
    }

    fn now_ms(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn kv_get(&mut self, key: String) -> Result<Option<Vec<u8>>, HostError> {
        let kv = self.kv()?;
        check_key(&key)?;
        kv.get(&key).map_err(unavailable)
    }

    fn kv_set(&mut self, key: String, value: Vec<u8>) -> Result<(), HostError> {
        let kv = self.kv()?;
        check_key(&key)?;
        if value.len() > MAX_KV_VALUE {
            return Err(HostError::Invalid(format!(
                "values are at most {MAX_KV_VALUE} bytes"
            )));
        }
        let limits = &self.ctx.limits;
        let quota = KvUsage {
            keys: limits.kv_keys,
            bytes: limits.kv_bytes,
        };
        match kv.set_within(&key, &value, quota) {
            Ok(()) => Ok(()),
            Err(KvError::Quota(message)) => {
                // The call fails when it returns, whatever the plugin makes
                // of the error.
                self.over_limit.get_or_insert(message.clone());
                Err(HostError::Invalid(message))
            }
            Err(KvError::Store(e)) => Err(unavailable(e)),
        }
    }

    fn kv_delete(&mut self, key: String) -> Result<(), HostError> {
        let kv = self.kv()?;
        check_key(&key)?;
        kv.delete(&key).map_err(unavailable)
    }

    fn customer_by_identity(&mut self, identity: Identity) -> Result<Option<Customer>, HostError> {
        self.customers()?
            .by_identity(&identity)
            .map_err(|e| HostError::Unavailable(e.to_string()))
    }

    fn customer_timeline(
        &mut self,
        customer_id: String,
        limit: u32,
    ) -> Result<Vec<TimelineEntry>, HostError> {
        self.customers()?
            .timeline(&customer_id, limit.min(200))
            .map_err(|e| HostError::Unavailable(e.to_string()))
    }

    fn agents_available(&mut self, kind: types::ChannelKind) -> u32 {
        self.ctx.floor.get().map_or(0, |floor| {
            floor.agents_available(crate::kind::Kind::from_wit(kind))
        })
    }

    fn conversation_open(&mut self, customer: Identity, thread_key: String) -> bool {
        // Channels only: they are the ones given a file store.
        if self.ctx.files.is_none() {
            self.deny("conversation-open (channels only)");
            return false;
        }
        self.ctx
            .customers
            .thread_open(&self.ctx.name, &customer, &thread_key)
            .unwrap_or_else(|e| {
                tracing::warn!(plugin = %self.ctx.name, error = %e, "conversation-open: store unavailable");
                false
            })
    }

    fn queue_place(
        &mut self,
        customer: Identity,
        thread_key: String,
    ) -> Option<host::QueueStanding> {
        // Channels only: they are the ones given a file store.
        if self.ctx.files.is_none() {
            self.deny("queue-place (channels only)");
            return None;
        }
        let task = self
            .ctx
            .customers
            .waiting_task(&self.ctx.name, &customer, &thread_key)
            .unwrap_or_else(|e| {
                tracing::warn!(plugin = %self.ctx.name, error = %e, "queue-place: store unavailable");
                None
            })?;
        let (position, estimated_wait_ms) = self.ctx.floor.get()?.queue_place(&task)?;
        Some(host::QueueStanding {
            position,
            estimated_wait_ms,
        })
    }

    fn business_hours(&mut self) -> host::HoursNow {
        let open = host::HoursNow {
            open: true,
            next_change: None,
            next_change_local: None,
        };
        let (Some(kind), Some(floor)) = (self.ctx.channel_kind.get(), self.ctx.floor.get()) else {
            return open;
        };
        let (open, next_change, next_change_local) = floor.business_hours(&self.ctx.name, *kind);
        host::HoursNow {
            open,
            next_change,
            next_change_local,
        }
    }

    fn keep_attachment(
        &mut self,
        content_type: String,
        filename: Option<String>,
        data: Vec<u8>,
    ) -> Result<String, HostError> {
        let Some(files) = self.ctx.files.clone() else {
            return Err(self.deny("keep-attachment (channels only)"));
        };
        if self.kept >= MAX_KEPT_PER_CALL {
            return Err(HostError::Invalid(format!(
                "at most {MAX_KEPT_PER_CALL} files are kept per call"
            )));
        }
        self.kept += 1;
        let blob = files
            .blobs()
            .put(
                &data,
                &content_type,
                filename.as_deref(),
                crate::clock::now_ms(),
            )
            .map_err(|e| match e {
                crate::attachments::BlobError::Io(e) => unavailable(e),
                other => HostError::Invalid(other.to_string()),
            })?;
        Ok(files.kept_ref(&self.ctx.name, &blob.sha256))
    }

    fn attachment_data(&mut self, url: String) -> Result<Vec<u8>, HostError> {
        let Some(files) = self.ctx.files.clone() else {
            return Err(self.deny("attachment-data (channels only)"));
        };
        files
            .linked(&url, crate::clock::now_ms())
            .map_err(|e| HostError::Invalid(e.to_string()))
    }
}

/// `host` of an older contract version: the same functions in that
/// version's types, through its adapter to the next version's `host`
/// (0.1 → 0.2 → 0.3 → current). `$extra` holds the functions that version
/// added over the ones every version has.
macro_rules! older_host {
    ($doc:literal, $old:ident => $($next:ident)::+ { $($extra:tt)* }) => {
        impl $old::types::Host for HostState {}

        #[doc = $doc]
        impl $old::host::Host for HostState {
            fn log(&mut self, level: $old::host::LogLevel, message: String) {
                $($next)::+::Host::log(self, level.adapt(), message)
            }

            fn config_get(&mut self, key: String) -> Option<String> {
                $($next)::+::Host::config_get(self, key)
            }

            fn now_ms(&mut self) -> u64 {
                $($next)::+::Host::now_ms(self)
            }

            fn kv_get(&mut self, key: String) -> Result<Option<Vec<u8>>, $old::host::HostError> {
                $($next)::+::Host::kv_get(self, key).map_err(Adapt::adapt)
            }

            fn kv_set(&mut self, key: String, value: Vec<u8>) -> Result<(), $old::host::HostError> {
                $($next)::+::Host::kv_set(self, key, value).map_err(Adapt::adapt)
            }

            fn kv_delete(&mut self, key: String) -> Result<(), $old::host::HostError> {
                $($next)::+::Host::kv_delete(self, key).map_err(Adapt::adapt)
            }

            fn customer_by_identity(
                &mut self,
                identity: $old::types::Identity,
            ) -> Result<Option<$old::types::Customer>, $old::host::HostError> {
                $($next)::+::Host::customer_by_identity(self, identity.adapt()).adapt()
            }

            fn customer_timeline(
                &mut self,
                customer_id: String,
                limit: u32,
            ) -> Result<Vec<$old::types::TimelineEntry>, $old::host::HostError> {
                $($next)::+::Host::customer_timeline(self, customer_id, limit).adapt()
            }

            $($extra)*
        }
    };
}

older_host!("`switchboard:plugin/host@0.3.x`, through 0.4's.", v0_3 => host {
    fn agents_available(&mut self, kind: v0_3::types::ChannelKind) -> u32 {
        host::Host::agents_available(self, kind.adapt())
    }

    fn conversation_open(&mut self, customer: v0_3::types::Identity, thread_key: String) -> bool {
        host::Host::conversation_open(self, customer.adapt(), thread_key)
    }

    fn keep_attachment(
        &mut self,
        content_type: String,
        filename: Option<String>,
        data: Vec<u8>,
    ) -> Result<String, v0_3::host::HostError> {
        host::Host::keep_attachment(self, content_type, filename, data).map_err(Adapt::adapt)
    }

    fn attachment_data(&mut self, url: String) -> Result<Vec<u8>, v0_3::host::HostError> {
        host::Host::attachment_data(self, url).map_err(Adapt::adapt)
    }
});

older_host!("`switchboard:plugin/host@0.2.0`, through 0.3's.", v0_2 => v0_3::host {});

older_host!("`switchboard:plugin/host@0.1.0`, through 0.2's.", v0_1 => v0_2::host {});
