//! Consent per channel: a customer who texts STOP is not messaged on that
//! channel again until she texts START. Recorded on the profile with when
//! and how, so it can be exported and audited.

use serde::{Deserialize, Serialize};

use super::{Customer, CustomerError, Customers};
use crate::store::{Batch, keys};

/// Whether the customer may be messaged on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    /// She agreed, or opted back in (START).
    OptedIn,
    /// She opted out (STOP): nothing is sent there.
    OptedOut,
}

/// The latest consent decision for one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Consent {
    /// In or out.
    pub status: ConsentStatus,
    /// When (unix ms).
    pub at: u64,
    /// How it was given, e.g. `keyword STOP` or `widget`.
    pub source: String,
}

impl Customer {
    /// Her opt-out of `channel`, if she opted out.
    pub fn opted_out(&self, channel: &str) -> Option<&Consent> {
        self.consent
            .get(channel)
            .filter(|c| c.status == ConsentStatus::OptedOut)
    }
}

impl Customers {
    /// Records `consent` for `channel` in `batch`; returns whether her
    /// status there changed (a repeated STOP changes nothing).
    pub fn set_consent(
        &self,
        batch: &mut Batch,
        customer: &str,
        channel: &str,
        consent: Consent,
    ) -> Result<bool, CustomerError> {
        let mut c = self
            .get(customer)?
            .ok_or_else(|| CustomerError::NotFound(customer.to_string()))?;
        let was = c.consent.get(channel).map(|c| c.status);
        let changed = was != Some(consent.status)
            // Never asked before and now in: nothing to confirm.
            && !(was.is_none() && consent.status == ConsentStatus::OptedIn);
        if was != Some(consent.status) {
            c.updated_at = consent.at;
            c.consent.insert(channel.to_string(), consent);
            batch.put_json(keys::customer(&c.id), &c);
        }
        Ok(changed)
    }
}
