//! Erasure of a profile's records: the profile, profiles merged into it,
//! their identities' index entries, timelines, consent and merge records.
//! What a profile's conversations hold is erased by `conversations`.

use super::{Customer, CustomerError, Customers, identity_key};
use crate::audit::AuditEntry;
use crate::store::{Batch, keys};

/// Where erased customer ids are remembered (`erased/<id>` → unix ms), so
/// they answer 410 rather than 404.
pub fn tombstone(id: &str) -> String {
    format!("erased/{id}")
}

impl Customers {
    /// Deletes, in `batch`, `customer` and every profile merged into it:
    /// records, identity index entries, timelines, enrichment requests,
    /// merge suggestions and merge audit entries naming them. Returns the
    /// ids erased.
    pub fn erase(
        &self,
        batch: &mut Batch,
        customer: &Customer,
        now: u64,
    ) -> Result<Vec<String>, CustomerError> {
        let mut profiles = vec![customer.clone()];
        profiles.extend(
            self.store
                .scan_json::<Customer>(keys::CUSTOMERS)?
                .into_iter()
                .filter(|c| c.merged_into.as_deref() == Some(customer.id.as_str())),
        );
        let ids: Vec<String> = profiles.iter().map(|c| c.id.clone()).collect();
        for profile in &profiles {
            batch.delete(keys::customer(&profile.id));
            for identity in &profile.identities {
                let key = identity_key(identity);
                if self
                    .store
                    .get_string(&key)?
                    .is_some_and(|owner| ids.contains(&owner))
                {
                    batch.delete(key);
                }
            }
            let timeline = keys::timeline_of(&profile.id);
            for rest in self.store.scan_keys(&timeline)? {
                batch.delete(format!("{timeline}{rest}"));
            }
            let conversations = keys::conversations_of(&profile.id);
            for rest in self.store.scan_keys(&conversations)? {
                batch.delete(format!("{conversations}{rest}"));
            }
            batch.delete(keys::crm_enrich(&profile.id));
            batch.put(tombstone(&profile.id), now.to_string());
        }
        let names = |text: &str| ids.iter().any(|id| text.contains(id.as_str()));
        for (rest, value) in self.store.scan_strings(keys::SUGGESTIONS)? {
            if names(&value) || names(&rest) {
                batch.delete(format!("{}{rest}", keys::SUGGESTIONS));
            }
        }
        // Merge records carry the reason (the identities that matched);
        // other audit entries name her id only and stay.
        for (rest, value) in self.store.scan_strings(keys::AUDIT)? {
            if names(&value)
                && serde_json::from_str::<AuditEntry>(&value)
                    .is_ok_and(|e| e.action == "customer.merge")
            {
                batch.delete(format!("{}{rest}", keys::AUDIT));
            }
        }
        Ok(ids)
    }

    /// When `id` was erased, if it was.
    pub fn erased_at(&self, id: &str) -> Result<Option<u64>, CustomerError> {
        Ok(self
            .store
            .get_string(&tombstone(id))?
            .and_then(|at| at.parse().ok()))
    }
}
