//! Telling a waiting customer where she stands: when her message becomes a
//! task that waits, a messaging, chat or email customer gets her place and
//! the estimated wait (`[routing] queued_reply`, per language; see
//! `routing::wait` for the estimator).

use crate::conversations::{Author, Conversation};
use crate::kind::Kind;
use crate::store::Batch;

use super::{Core, CoreError};

/// The notice value of the acknowledgement (`notice` metadata).
const QUEUED_NOTICE: &str = "queued";

/// A wait as a customer reads it: `1 minute`, `4 minutes`, `2 hours`.
pub(super) fn wait_text(ms: u64) -> String {
    let minutes = ms.div_ceil(60_000).max(1);
    if minutes < 90 {
        format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
    } else {
        format!("{} hours", minutes.div_ceil(60))
    }
}

impl Core {
    /// Sends the queued acknowledgement for `task` of `conversation` when
    /// it waits behind others (a task an agent is free to take now gets
    /// none, nor one outside business hours, which has its own reply).
    /// Returns whether it did.
    pub(super) fn acknowledge_queued(
        &self,
        conversation: &Conversation,
        task: &str,
        language: Option<&str>,
    ) -> Result<bool, CoreError> {
        if self.queued_replies.is_empty() || conversation.channel_kind == Kind::Voice {
            return Ok(false);
        }
        let Some(entry) = self.routing.queue().into_iter().find(|e| e.task.id == task) else {
            return Ok(false);
        };
        if entry.estimated_wait_ms == Some(0) {
            return Ok(false);
        }
        let Some(template) = super::hours::in_language(&self.queued_replies, language) else {
            return Ok(false);
        };
        let wait = entry
            .estimated_wait_ms
            .map_or_else(|| "as soon as someone is free".to_string(), wait_text);
        let text = template
            .replace("{position}", &entry.position_in_kind.to_string())
            .replace("{wait}", &wait);
        {
            let _gate = self.gate();
            let mut batch = Batch::new();
            self.queue_outbound(
                &mut batch,
                conversation,
                (Author::System, None, Some(QUEUED_NOTICE)),
                &text,
                Vec::new(),
                crate::clock::now_ms(),
            )?;
            self.store.write(batch)?;
        }
        self.outbox.wake();
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::wait_text;

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!(wait_text(0), "1 minute");
        assert_eq!(wait_text(61_000), "2 minutes");
        assert_eq!(wait_text(240_000), "4 minutes");
        assert_eq!(wait_text(2 * 3_600_000), "2 hours");
    }
}
