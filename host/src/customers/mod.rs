//! The customer store: one profile per person across channels.
//!
//! Every inbound event's *verified* identities resolve to one customer
//! (created when none matches); identities it did not have yet are linked to
//! it. When one event attests verified identities of two existing profiles,
//! the merge policy decides: `auto` merges them into the older one
//! (audited), `suggest` records a suggestion, `off` does nothing; an event
//! that would merge more than two profiles at once only suggests.
//!
//! *Claimed* identities (typed by the sender, e.g. in a pre-chat form) never
//! link to or merge with anyone: they are kept on the profile as claims
//! ("claims to be …, unverified"), stay out of the identity index, and when
//! someone else owns one a merge suggestion is recorded for a person to
//! check.
//!
//! Callers serialize writes (the core holds one write gate around
//! resolution and merges); reads are free.

mod consent;
mod erase;
pub mod identity;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::audit::{Audit, AuditEntry};
use crate::config::{CustomersConfig, MergePolicy};
use crate::store::{Batch, Store, StoreError, keys};
use crate::wit::types as wit;

pub use consent::{Consent, ConsentStatus};
pub use identity::{Identity, IdentityError, IdentityKind, Normalizer, Trust};

/// A customer profile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Customer {
    /// `cus_…`.
    pub id: String,
    /// The best known name.
    pub display_name: Option<String>,
    /// Every identity linked to the profile.
    pub identities: Vec<Identity>,
    /// Profile attributes, e.g. `tier = vip`.
    pub attributes: BTreeMap<String, String>,
    /// Unix ms.
    pub created_at: u64,
    /// Unix ms.
    pub updated_at: u64,
    /// The agent who last served this customer: the preferred-agent hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_agent: Option<String>,
    /// Set when this profile was merged into another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
    /// What the customer claimed to be without proof (not linked, not
    /// indexed): shown as "claims to be …, unverified".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<Identity>,
    /// Consent per channel (plugin name): a STOP, a START, the widget's
    /// flag.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub consent: BTreeMap<String, Consent>,
}

impl Customer {
    /// The profile as plugins see it.
    pub fn to_wit(&self) -> wit::Customer {
        wit::Customer {
            id: self.id.clone(),
            display_name: self.display_name.clone(),
            identities: self
                .identities
                .iter()
                .map(|i| (i, Trust::Verified))
                .chain(self.claims.iter().map(|i| (i, Trust::Claimed)))
                .map(|(i, trust)| wit::AttestedIdentity {
                    identity: i.to_wit(),
                    trust: trust.to_wit(),
                })
                .collect(),
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// Two profiles an event suggested are the same person (policy `suggest`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct MergeSuggestion {
    /// Unix ms.
    pub at: u64,
    /// The two customers, older first.
    pub customers: [String; 2],
    /// The identities that tied them together.
    pub evidence: Vec<String>,
}

/// A merge performed while resolving an event or by an admin.
#[derive(Debug, Clone)]
pub struct Merge {
    /// The profile that remains.
    pub survivor: String,
    /// The profile that was absorbed.
    pub merged: String,
}

/// The outcome of resolving an event's identities.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The customer the event belongs to (after any merge).
    pub customer: Customer,
    /// Whether it was created for this event.
    pub created: bool,
    /// Whether new identities or a name were added.
    pub updated: bool,
    /// Merges performed (policy `auto`).
    pub merges: Vec<Merge>,
}

/// A customer operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An identity does not normalize.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// No such customer.
    #[error("no customer {0}")]
    NotFound(String),
    /// Merging a customer with itself.
    #[error("cannot merge customer {0} with itself")]
    SameCustomer(String),
    /// The event carried no identity.
    #[error("an event must attest at least one identity")]
    NoIdentity,
}

fn identity_key(identity: &Identity) -> String {
    keys::identity(&identity.key())
}

/// Records that the profiles `ids` may be one person, pairwise in id order,
/// in `batch`.
fn suggest(batch: &mut Batch, ids: &[&str], evidence: &[String], now: u64) {
    let mut ids = ids.to_vec();
    ids.sort();
    for pair in ids.windows(2) {
        batch.put_json(
            keys::suggestion(pair[0], pair[1]),
            &MergeSuggestion {
                at: now,
                customers: [pair[0].to_string(), pair[1].to_string()],
                evidence: evidence.to_vec(),
            },
        );
    }
}

/// The customer store.
pub struct Customers {
    store: Store,
    normalizer: Normalizer,
    policy: MergePolicy,
}

impl Customers {
    /// A store using `config`'s region and merge policy.
    pub fn new(store: Store, config: &CustomersConfig) -> Result<Self, IdentityError> {
        Ok(Customers {
            store,
            normalizer: Normalizer::new(&config.default_region)?,
            policy: config.merge_policy,
        })
    }

    /// The identity normalizer.
    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }

    /// A customer by id; ids of merged profiles lead to their survivor.
    pub fn get(&self, id: &str) -> Result<Option<Customer>, CustomerError> {
        let mut id = id.to_string();
        for _ in 0..32 {
            match self.store.get_json::<Customer>(&keys::customer(&id))? {
                None => return Ok(None),
                Some(c) => match &c.merged_into {
                    Some(next) => id = next.clone(),
                    None => return Ok(Some(c)),
                },
            }
        }
        Ok(None)
    }

    /// The customer owning `identity`.
    pub fn by_identity(&self, identity: &Identity) -> Result<Option<Customer>, CustomerError> {
        match self.store.get_string(&identity_key(identity))? {
            None => Ok(None),
            Some(id) => self.get(&id),
        }
    }

    /// Customers whose name or any identity (claims too) contains `query`
    /// (case-insensitive; a phone by its digits), most recently active
    /// first. A scan of every profile: fine for a search box, not a hot path.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Customer>, CustomerError> {
        let query = query.trim().to_lowercase();
        let digits: String = query.chars().filter(char::is_ascii_digit).collect();
        let matches = |c: &Customer| {
            c.display_name
                .as_deref()
                .is_some_and(|n| n.to_lowercase().contains(&query))
                || c.identities.iter().chain(&c.claims).any(|i| {
                    // Handles are the host's own keys, not something a
                    // person would type.
                    if i.kind == IdentityKind::Handle {
                        return false;
                    }
                    let value = i.value.to_lowercase();
                    value.contains(&query)
                        // A phone typed with spaces or dashes still matches.
                        || (digits.len() >= 4 && value.contains(&digits))
                })
        };
        let mut found: Vec<Customer> = self
            .store
            .scan_json::<Customer>(keys::CUSTOMERS)?
            .into_iter()
            .filter(|c| c.merged_into.is_none() && matches(c))
            .collect();
        found.sort_by_key(|c| std::cmp::Reverse(c.updated_at));
        found.truncate(limit);
        Ok(found)
    }

    /// The merge audit log, oldest first.
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>, CustomerError> {
        Ok(self.store.scan_json(keys::AUDIT)?)
    }

    /// Merge suggestions, oldest first.
    pub fn suggestions(&self) -> Result<Vec<MergeSuggestion>, CustomerError> {
        Ok(self.store.scan_json(keys::SUGGESTIONS)?)
    }

    /// Resolves an event's verified `identities` to one customer,
    /// creating, linking and merging as needed, records its `claims`, and
    /// writes the result. The caller holds the core's write gate and
    /// re-keys conversations and tasks of `merges`.
    pub fn resolve(
        &self,
        identities: &[Identity],
        claims: &[Identity],
        display_name: Option<&str>,
        now: u64,
        on_merge: &mut dyn FnMut(&mut Batch, &Merge) -> Result<(), StoreError>,
    ) -> Result<Resolved, CustomerError> {
        if identities.is_empty() {
            return Err(CustomerError::NoIdentity);
        }
        // Existing owners, in the order the channel listed the identities.
        let mut owners: Vec<Customer> = Vec::new();
        let mut evidence: Vec<String> = Vec::new();
        let mut owned: Vec<&Identity> = Vec::new();
        for identity in identities {
            if let Some(c) = self.by_identity(identity)? {
                evidence.push(identity.key());
                owned.push(identity);
                if !owners.iter().any(|o| o.id == c.id) {
                    owners.push(c);
                }
            }
        }
        let display_name = display_name.map(str::trim).filter(|n| !n.is_empty());
        let mut batch = Batch::new();
        let mut merges = Vec::new();
        // Merging more than two profiles at once is what a compromised or
        // confused channel would do: a person decides instead.
        let merge = owners.len() == 2 && self.policy == MergePolicy::Auto;
        let (mut customer, created) = match owners.len() {
            0 => (self.new_customer(now)?, true),
            1 => (owners.remove(0), false),
            _ if merge => {
                owners.sort_by(|a, b| a.id.cmp(&b.id));
                let mut survivor = owners.remove(0);
                let other = owners.remove(0);
                let reason = format!("one event attested {}", evidence.join(" and "));
                let merged =
                    self.merge_into(&mut batch, &mut survivor, other, "system", &reason, now)?;
                on_merge(&mut batch, &merged)?;
                merges.push(merged);
                (survivor, false)
            }
            _ => {
                let first = owners[0].clone();
                if self.policy != MergePolicy::Off {
                    let ids: Vec<&str> = owners.iter().map(|o| o.id.as_str()).collect();
                    suggest(&mut batch, &ids, &evidence, now);
                }
                (first, false)
            }
        };
        let mut updated = false;
        for identity in identities {
            // When nothing merged, an identity owned by the other profile
            // stays with it.
            if customer.identities.contains(identity) || owned.contains(&identity) {
                continue;
            }
            customer.identities.push(identity.clone());
            customer.claims.retain(|c| c != identity);
            batch.put(identity_key(identity), customer.id.clone());
            updated = true;
        }
        for claim in claims {
            if customer.identities.contains(claim) || customer.claims.contains(claim) {
                continue;
            }
            customer.claims.push(claim.clone());
            updated = true;
            // Someone else is known by what this sender claims: a person
            // may check and merge.
            if let Some(owner) = self.by_identity(claim)?
                && owner.id != customer.id
                && self.policy != MergePolicy::Off
            {
                let evidence = [format!("claimed {}", claim.key())];
                suggest(&mut batch, &[&customer.id, &owner.id], &evidence, now);
            }
        }
        if customer.display_name.is_none()
            && let Some(name) = display_name
        {
            customer.display_name = Some(name.to_string());
            updated = true;
        }
        if created || updated || !merges.is_empty() {
            customer.updated_at = now;
            batch.put_json(keys::customer(&customer.id), &customer);
        }
        if !batch.is_empty() {
            self.store.write(batch)?;
        }
        Ok(Resolved {
            customer,
            created,
            updated: updated && !created,
            merges,
        })
    }

    /// A profile for a sender nobody knows yet (not written).
    fn new_customer(&self, now: u64) -> Result<Customer, StoreError> {
        Ok(Customer {
            id: format!("cus_{:012}", self.store.next_id()?),
            display_name: None,
            identities: Vec::new(),
            attributes: BTreeMap::new(),
            created_at: now,
            updated_at: now,
            last_agent: None,
            merged_into: None,
            claims: Vec::new(),
            consent: BTreeMap::new(),
        })
    }

    /// Merges `other` into `survivor` on an admin's request and writes it.
    pub fn merge(
        &self,
        survivor: &str,
        other: &str,
        actor: &str,
        now: u64,
        on_merge: &mut dyn FnMut(&mut Batch, &Merge) -> Result<(), StoreError>,
    ) -> Result<(Customer, Merge, u64), CustomerError> {
        let mut survivor = self
            .get(survivor)?
            .ok_or_else(|| CustomerError::NotFound(survivor.to_string()))?;
        let other = self
            .get(other)?
            .ok_or_else(|| CustomerError::NotFound(other.to_string()))?;
        if survivor.id == other.id {
            return Err(CustomerError::SameCustomer(survivor.id));
        }
        let mut batch = Batch::new();
        let merge =
            self.merge_into(&mut batch, &mut survivor, other, actor, "manual merge", now)?;
        on_merge(&mut batch, &merge)?;
        batch.put_json(keys::customer(&survivor.id), &survivor);
        let seq = self.store.write(batch)?;
        Ok((survivor, merge, seq))
    }

    /// Moves identities, attributes and the timeline of `other` to
    /// `survivor` (whose own attributes win), marks `other` merged and
    /// audits it. The survivor record itself is written by the caller.
    fn merge_into(
        &self,
        batch: &mut Batch,
        survivor: &mut Customer,
        mut other: Customer,
        actor: &str,
        reason: &str,
        now: u64,
    ) -> Result<Merge, CustomerError> {
        for identity in &other.identities {
            if !survivor.identities.contains(identity) {
                survivor.identities.push(identity.clone());
            }
            batch.put(identity_key(identity), survivor.id.clone());
        }
        // A claim one profile proves is no longer a claim.
        for claim in &other.claims {
            if !survivor.claims.contains(claim) {
                survivor.claims.push(claim.clone());
            }
        }
        let verified = &survivor.identities;
        survivor.claims.retain(|c| !verified.contains(c));
        for (k, v) in &other.attributes {
            survivor
                .attributes
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        // The latest decision per channel stands, whichever profile made it.
        for (channel, consent) in &other.consent {
            if survivor
                .consent
                .get(channel)
                .is_none_or(|c| c.at < consent.at)
            {
                survivor.consent.insert(channel.clone(), consent.clone());
            }
        }
        if survivor.display_name.is_none() {
            survivor.display_name = other.display_name.clone();
        }
        if survivor.last_agent.is_none() {
            survivor.last_agent = other.last_agent.clone();
        }
        survivor.updated_at = now;
        let (from, to) = (
            keys::timeline_of(&other.id),
            keys::timeline_of(&survivor.id),
        );
        for rest in self.store.scan_keys(&from)? {
            batch.delete(format!("{from}{rest}"));
            batch.put(format!("{to}{rest}"), Vec::new());
        }
        other.merged_into = Some(survivor.id.clone());
        other.updated_at = now;
        batch.put_json(keys::customer(&other.id), &other);
        let mut entry = AuditEntry::new(
            "customer.merge",
            actor,
            if actor == "system" { "system" } else { "admin" },
            now,
        );
        entry.targets = vec![survivor.id.clone(), other.id.clone()];
        entry.survivor = survivor.id.clone();
        entry.merged = other.id.clone();
        entry.reason = reason.into();
        Audit::new(self.store.clone()).record(batch, entry)?;
        tracing::info!(survivor = %survivor.id, merged = %other.id, %actor, %reason, "customers merged");
        Ok(Merge {
            survivor: survivor.id.clone(),
            merged: other.id,
        })
    }

    /// Sets (or, with an empty value, removes) profile attributes and
    /// writes the profile; returns it and the write's sequence number.
    pub fn set_attributes(
        &self,
        id: &str,
        attributes: &BTreeMap<String, String>,
        now: u64,
    ) -> Result<(Customer, u64), CustomerError> {
        let mut customer = self
            .get(id)?
            .ok_or_else(|| CustomerError::NotFound(id.to_string()))?;
        for (k, v) in attributes {
            if v.is_empty() {
                customer.attributes.remove(k);
            } else {
                customer.attributes.insert(k.clone(), v.clone());
            }
        }
        customer.updated_at = now;
        let mut batch = Batch::new();
        batch.put_json(keys::customer(&customer.id), &customer);
        let seq = self.store.write(batch)?;
        Ok((customer, seq))
    }

    /// Records the agent who served a customer (the preferred-agent hint).
    pub fn set_last_agent(
        &self,
        batch: &mut Batch,
        customer: &str,
        agent: &str,
        now: u64,
    ) -> Result<(), CustomerError> {
        if let Some(mut c) = self.get(customer)?
            && c.last_agent.as_deref() != Some(agent)
        {
            c.last_agent = Some(agent.to_string());
            c.updated_at = now;
            batch.put_json(keys::customer(&c.id), &c);
        }
        Ok(())
    }
}
