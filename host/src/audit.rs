//! The audit trail: an append-only log of privileged actions — who (the
//! principal and its role), what (the action and the ids it touched),
//! when, from which address, and how it ended. Merges, admin and
//! supervisor requests, and the host's own system actions all land here;
//! entries are only ever added.

use serde::{Deserialize, Serialize};

use crate::store::{Batch, Store, StoreError, keys};

/// One entry of the audit log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AuditEntry {
    /// `aud_…`, in the order entries were written.
    pub id: String,
    /// Unix ms.
    pub at: u64,
    /// What happened: `customer.merge`, `host.start`, or the request,
    /// e.g. `PUT /api/agents/{id}`.
    pub action: String,
    /// Who did it: `system`, `admin`, or the supervisor's (or agent's) id.
    pub actor: String,
    /// `admin`, `supervisor`, `agent` or `system`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The ids it acted on (a customer, an agent, a task, a plugin...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// The client address the request came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The HTTP status it was answered with (requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The surviving customer (merges).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub survivor: String,
    /// The customer merged into it (merges).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub merged: String,
    /// Why, or what else is worth knowing.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// What it changed, as it was before (`null`: it did not exist).
    /// Only for records of the centre's own set-up — agents, their status,
    /// plugins, canned responses — never a customer's data, which would
    /// outlive her erasure here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The same, after (`null`: it no longer exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl AuditEntry {
    /// An entry for `action` by `actor` (with `role`), timestamped `at`;
    /// its id is given when it is written.
    pub fn new(action: impl Into<String>, actor: impl Into<String>, role: &str, at: u64) -> Self {
        AuditEntry {
            id: String::new(),
            at,
            action: action.into(),
            actor: actor.into(),
            role: Some(role.to_string()),
            targets: Vec::new(),
            address: None,
            status: None,
            survivor: String::new(),
            merged: String::new(),
            reason: String::new(),
            before: None,
            after: None,
        }
    }

    /// Whether it names `target` (as a target, survivor or merged).
    pub fn names(&self, target: &str) -> bool {
        self.targets.iter().any(|t| t == target) || self.survivor == target || self.merged == target
    }
}

/// Which entries to read.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    /// Only by this actor.
    pub actor: Option<String>,
    /// Only naming this id.
    pub target: Option<String>,
    /// Only this action, or actions starting with it (`PUT /api/agents`).
    pub action: Option<String>,
    /// From this time on (unix ms).
    pub from: Option<u64>,
    /// Before this time (unix ms).
    pub to: Option<u64>,
    /// After this entry id (paging).
    pub after: Option<String>,
    /// At most this many.
    pub limit: usize,
}

impl AuditFilter {
    fn accepts(&self, e: &AuditEntry) -> bool {
        self.actor.as_deref().is_none_or(|a| e.actor == a)
            && self.target.as_deref().is_none_or(|t| e.names(t))
            && self
                .action
                .as_deref()
                .is_none_or(|a| e.action.starts_with(a))
            && self.from.is_none_or(|from| e.at >= from)
            && self.to.is_none_or(|to| e.at < to)
    }
}

/// The log, in the store.
#[derive(Clone)]
pub struct Audit {
    store: Store,
}

impl Audit {
    /// Over `store`.
    pub fn new(store: Store) -> Self {
        Audit { store }
    }

    /// Adds `entry` to `batch` (written with the change it records).
    pub fn record(&self, batch: &mut Batch, mut entry: AuditEntry) -> Result<(), StoreError> {
        let seq = self.store.next_id()?;
        entry.id = format!("aud_{seq:012}");
        batch.put_json(keys::audit(seq), &entry);
        Ok(())
    }

    /// Writes `entry` on its own and waits until it is durable.
    pub async fn append(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        self.record(&mut batch, entry)?;
        let seq = self.store.write(batch)?;
        self.store.durable(seq).await
    }

    /// Deletes in `batch` up to `max` of the oldest entries, those written
    /// before `cutoff` (unix ms); returns how many. Entries are in the
    /// order they were written, so the first newer one ends the look.
    pub fn expire(&self, batch: &mut Batch, cutoff: u64, max: usize) -> Result<u64, StoreError> {
        let mut expired = 0;
        for (key, entry) in
            self.store
                .scan_json_after::<AuditEntry>(keys::AUDIT, None, max.max(1))?
        {
            if entry.at >= cutoff {
                break;
            }
            batch.delete(format!("{}{key}", keys::AUDIT));
            expired += 1;
        }
        Ok(expired)
    }

    /// The entries `filter` accepts, oldest first.
    pub fn read(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        /// Entries decoded per step.
        const PAGE: usize = 512;
        let limit = filter.limit.max(1);
        // The cursor is an entry id, `aud_<seq>`: its key says where to
        // start, so earlier entries are not read at all.
        let mut cursor = match filter.after.as_deref() {
            None => None,
            Some(id) => match id.strip_prefix("aud_").and_then(|n| n.parse::<u64>().ok()) {
                Some(seq) => Some(format!("{seq:016x}")),
                None => return Ok(Vec::new()),
            },
        };
        let mut out = Vec::new();
        loop {
            let page =
                self.store
                    .scan_json_after::<AuditEntry>(keys::AUDIT, cursor.as_deref(), PAGE)?;
            let full = page.len() == PAGE;
            for (key, entry) in page {
                cursor = Some(key);
                if filter.accepts(&entry) {
                    out.push(entry);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            if !full {
                return Ok(out);
            }
        }
    }
}
