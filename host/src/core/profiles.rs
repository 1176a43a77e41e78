//! Customer profiles: look-ups for agents and supervisors, attributes,
//! merges (by an admin, or when one event attests two profiles) and what a
//! merge moves along with the profile: conversations, tasks and the CRM
//! events not yet delivered.

use std::collections::BTreeMap;

use crate::audit::{AuditEntry, AuditFilter};
use crate::clock::now_ms;
use crate::customers::{Customer, Merge, MergeSuggestion};
use crate::store::{Batch, StoreError};

use super::crm::Change as CrmChange;
use super::{Core, CoreError};

impl Core {
    /// A customer by id (a merged profile's id answers with its survivor).
    pub fn customer(&self, id: &str) -> Result<Option<Customer>, CoreError> {
        Ok(self.customers.get(id)?)
    }

    /// The customers owning an identity written `KIND:VALUE` (e.g.
    /// `phone:+15551234567`), normalized as inbound identities are.
    pub fn find_customers(&self, identity: &str) -> Result<Vec<Customer>, CoreError> {
        let identity = self
            .customers
            .normalizer()
            .parse(identity)
            .map_err(|e| CoreError::Invalid(e.to_string()))?;
        Ok(self.customers.by_identity(&identity)?.into_iter().collect())
    }

    /// Customers matching a search box's `query` (name, email, phone): for
    /// an agent (`Some`), only those of tasks it held or passed on.
    pub fn search_customers(
        &self,
        query: &str,
        agent: Option<&str>,
    ) -> Result<Vec<Customer>, CoreError> {
        if query.trim().chars().count() < 2 {
            return Err(CoreError::Invalid(
                "search for at least 2 characters".into(),
            ));
        }
        let mut found = self.customers.search(query, 200)?;
        if let Some(agent) = agent {
            let mine = self.routing.customers_of_agent(agent);
            found.retain(|c| mine.contains(&c.id));
        }
        found.truncate(20);
        Ok(found)
    }

    /// The audit entries `filter` accepts, oldest first.
    pub fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, CoreError> {
        Ok(self.audit.read(filter)?)
    }

    /// Appends `entry` to the audit trail (durably).
    pub async fn audit(&self, entry: AuditEntry) -> Result<(), CoreError> {
        Ok(self.audit.append(entry).await?)
    }

    /// Merge suggestions (policy `suggest`), oldest first.
    pub fn merge_suggestions(&self) -> Result<Vec<MergeSuggestion>, CoreError> {
        Ok(self.customers.suggestions()?)
    }

    /// Sets profile attributes (an empty value removes one).
    pub async fn set_attributes(
        &self,
        customer: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<Customer, CoreError> {
        for key in attributes.keys() {
            if key.trim().is_empty() || key.len() > 64 {
                return Err(CoreError::Invalid(
                    "attribute names are 1-64 characters".into(),
                ));
            }
        }
        let (customer, seq) = {
            let _gate = self.gate();
            // Recorded first: the event carries the profile as it is when
            // delivered, so a crash in between costs a redundant update, not
            // a lost one.
            if self.customers.get(customer)?.is_some() {
                let mut batch = Batch::new();
                if self
                    .crm
                    .record(&mut batch, customer, CrmChange::CustomerUpdated)?
                {
                    self.store.write(batch)?;
                    self.crm.wake();
                }
            }
            self.customers
                .set_attributes(customer, attributes, now_ms())?
        };
        self.store.durable(seq).await?;
        // Routers may weigh attributes (vip-first): waiting tasks are
        // prioritized again.
        self.routing.reprioritize_customer(&customer.id);
        Ok(customer)
    }

    /// Merges `other` into `survivor` on a person's request (an admin or a
    /// supervisor, named in the audit log as `actor`).
    pub async fn merge(
        &self,
        survivor: &str,
        other: &str,
        actor: &str,
    ) -> Result<Customer, CoreError> {
        let (customer, _, seq) = {
            let _gate = self.gate();
            self.customers
                .merge(survivor, other, actor, now_ms(), &mut |batch, merge| {
                    self.rekey(batch, merge)
                })?
        };
        self.store.durable(seq).await?;
        Ok(customer)
    }

    /// Moves what belonged to a merged profile to its survivor, in `batch`.
    pub(super) fn rekey(&self, batch: &mut Batch, merge: &Merge) -> Result<(), StoreError> {
        self.conversations.rekey(batch, merge)?;
        self.routing.rekey_customer(batch, merge)?;
        self.crm.rekey_customer(batch, merge)?;
        self.crm.record(
            batch,
            &merge.survivor,
            CrmChange::CustomersMerged {
                merged_id: merge.merged.clone(),
            },
        )?;
        self.crm.wake();
        Ok(())
    }
}
