//! What one call hands back, measured against the plugin's limits before
//! the host touches it: the number of events and identities a webhook
//! reports, and the size of everything a call returns.

use crate::wit::botting::BotAction;
use crate::wit::channeling::{Delivery, DeliveryError, WebhookOutcome};
use crate::wit::types::{Attachment, ChannelEvent, PluginError};

use super::limits::Limits;

/// Roughly how many bytes a value takes: its strings and byte lists.
pub(super) trait Size {
    /// The bytes of its text and data.
    fn size(&self) -> usize;
}

impl Size for String {
    fn size(&self) -> usize {
        self.len()
    }
}

impl<T: Size> Size for Option<T> {
    fn size(&self) -> usize {
        self.as_ref().map_or(0, Size::size)
    }
}

impl<T: Size> Size for Vec<T> {
    fn size(&self) -> usize {
        self.iter().map(Size::size).sum()
    }
}

impl<A: Size, B: Size> Size for (A, B) {
    fn size(&self) -> usize {
        self.0.size() + self.1.size()
    }
}

impl<T: Size, E: Size> Size for Result<T, E> {
    fn size(&self) -> usize {
        match self {
            Ok(v) => v.size(),
            Err(e) => e.size(),
        }
    }
}

impl Size for () {
    fn size(&self) -> usize {
        0
    }
}

impl Size for PluginError {
    fn size(&self) -> usize {
        self.message.len()
    }
}

impl Size for Attachment {
    fn size(&self) -> usize {
        self.content_type.len()
            + self.url.size()
            + self.media_id.size()
            + self.filename.size()
            + self.caption.size()
    }
}

impl Size for ChannelEvent {
    fn size(&self) -> usize {
        match self {
            ChannelEvent::Message(m) => {
                m.provider_message_id.len()
                    + m.thread_key.len()
                    + m.identities.len() * 32
                    + m.display_name.size()
                    + m.text.len()
                    + m.attachments.size()
                    + m.metadata.size()
            }
            ChannelEvent::Status(s) => s.provider_message_id.len() + s.error.size(),
            ChannelEvent::Call(c) => {
                c.call_id.len() + c.to.size() + c.display_name.size() + c.metadata.size()
            }
        }
    }
}

impl Size for WebhookOutcome {
    fn size(&self) -> usize {
        self.response.body.len() + self.response.headers.size() + self.events.size()
    }
}

impl Size for BotAction {
    fn size(&self) -> usize {
        match self {
            BotAction::Reply(text) => text.len(),
            BotAction::Handoff(h) => h.reason.len() + h.summary.len() + h.skills.len() * 16,
            BotAction::Resolve => 0,
        }
    }
}

impl Size for Delivery {
    fn size(&self) -> usize {
        self.provider_message_id.size()
    }
}

impl Size for DeliveryError {
    fn size(&self) -> usize {
        self.message.len()
    }
}

/// Checks that a value fits the plugin's output limit.
pub(super) fn check_size(value: &impl Size, limits: &Limits) -> Result<(), String> {
    let size = value.size();
    if size > limits.output_bytes() {
        return Err(format!(
            "returned {size} bytes; the limit is {} KiB",
            limits.output_kb
        ));
    }
    Ok(())
}

/// Checks a webhook's outcome: its events, their identities, its size.
pub(super) fn check_webhook(outcome: &WebhookOutcome, limits: &Limits) -> Result<(), String> {
    let events = outcome.events.len();
    if events > limits.events as usize {
        return Err(format!(
            "reported {events} events; the limit is {}",
            limits.events
        ));
    }
    let identities: usize = outcome
        .events
        .iter()
        .map(|e| match e {
            ChannelEvent::Message(m) => m.identities.len(),
            ChannelEvent::Call(c) => usize::from(c.from.is_some()),
            ChannelEvent::Status(_) => 0,
        })
        .sum();
    if identities > limits.identities as usize {
        return Err(format!(
            "reported {identities} identities; the limit is {}",
            limits.identities
        ));
    }
    check_size(outcome, limits)
}
