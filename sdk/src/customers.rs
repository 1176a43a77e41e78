//! Read access to the host's customer store (needs `customers = "read"`).

use crate::wit::base::switchboard::plugin::host;
use crate::{Customer, HostError, Identity, TimelineEntry};

/// The customer an identity belongs to, if any.
pub fn by_identity(identity: &Identity) -> Result<Option<Customer>, HostError> {
    host::customer_by_identity(identity)
}

/// The customer's latest `limit` timeline entries (at most 200), oldest first.
pub fn timeline(customer_id: &str, limit: u32) -> Result<Vec<TimelineEntry>, HostError> {
    host::customer_timeline(customer_id, limit)
}
