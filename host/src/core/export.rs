//! Subject access: everything the host holds about one customer, in one
//! document an admin can hand to her.

use serde::Serialize;

use crate::audit::AuditEntry;
use crate::clock::now_ms;
use crate::conversations::{Conversation, Message, Note};
use crate::routing::Task;

use super::{Core, CoreError};

/// `GET /api/customers/{id}/export`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubjectExport {
    /// When it was made (unix ms).
    pub exported_at: u64,
    /// The profile: identities, claims, attributes, consent per channel.
    #[schema(value_type = Object)]
    pub customer: serde_json::Value,
    /// Every conversation, oldest first, with its messages and notes.
    pub conversations: Vec<ConversationExport>,
    /// Every task of hers: which agents, transfers, dispositions.
    pub tasks: Vec<Task>,
    /// Audit entries naming her (merges).
    pub audit: Vec<AuditEntry>,
}

/// One conversation in a [`SubjectExport`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationExport {
    /// The conversation.
    pub conversation: Conversation,
    /// Its messages, in order.
    pub messages: Vec<Message>,
    /// Agents' internal notes on it.
    pub notes: Vec<Note>,
}

impl Core {
    /// Everything about customer `id` (a merged profile's id exports its
    /// survivor, which holds its data now).
    pub fn export_customer(&self, id: &str) -> Result<SubjectExport, CoreError> {
        if self.customer_erased_at(id)?.is_some() {
            return Err(CoreError::Gone(format!("customer {id} was erased")));
        }
        let missing = || CoreError::NotFound(format!("no customer {id}"));
        let mut customer = self.customer(id)?.ok_or_else(missing)?;
        if let Some(survivor) = customer.merged_into.clone() {
            customer = self.customer(&survivor)?.ok_or_else(missing)?;
        }
        let mut conversations = Vec::new();
        let mut all = self.conversations.of_customer(&customer.id)?;
        all.sort_by_key(|c| c.created_at);
        for conversation in all {
            conversations.push(ConversationExport {
                messages: self.conversations.messages(&conversation.id)?,
                notes: self.conversations.notes(&conversation.id)?,
                conversation,
            });
        }
        let audit = self
            .customers
            .audit_log()?
            .into_iter()
            .filter(|e| e.survivor == customer.id || e.merged == customer.id || e.merged == id)
            .collect();
        Ok(SubjectExport {
            exported_at: now_ms(),
            customer: serde_json::to_value(&customer).unwrap_or_default(),
            tasks: self.routing.tasks_of_customer(&customer.id),
            conversations,
            audit,
        })
    }
}
