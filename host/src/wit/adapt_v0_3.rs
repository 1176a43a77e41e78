//! The adapter that keeps `switchboard:plugin@0.3` components working under
//! the current contract (0.4): most types are the same in both, so most of
//! this is field-by-field copying; what 0.4 added is decided here, once:
//! - a 0.3 channel declares no rules: free text at any time, no templates,
//!   and no conversations started by an agent (what 0.3 hosts allowed);
//! - a 0.3 channel cannot call a customer back: [`outbound_action`] says
//!   the action is not for it, and the host answers a non-retryable
//!   delivery error;
//! - a 0.3 CRM connector is not sent `customer-erased` (it has no case for
//!   it): [`crm_event`] says so, and the host logs that the CRM must be
//!   rebuilt for it to erase its copy.

use super::adapt::Adapt;
use super::v0_3 as old;
use super::v0_4 as new;

both! { records
    types::Handle { channel, value }
    types::AttestedIdentity { identity, trust }
    types::Attachment { content_type, url, media_id, filename, size, caption }
    types::InboundMessage { provider_message_id, thread_key, identities, display_name, text, attachments, sent_at, metadata }
    types::StatusUpdate { provider_message_id, status, error, at }
    types::CallEvent { call_id, state, from, to, display_name, at, metadata }
    types::HttpRequest { method, path_with_query, headers, body }
    types::HttpResponse { status, headers, body }
    types::PluginError { kind, message }
    types::Customer { id, display_name, identities, attributes }
    types::TimelineEntry { id, at, channel, conversation_id, direction, author, text, attachments, status }
    types::SkillRequirement { name, min_level }
    channeling::WebhookOutcome { response, events }
    channeling::ConnectCall { call_id, agent_endpoint }
    channeling::Delivery { provider_message_id }
    channeling::DeliveryError { retryable, message }
    channeling::Media { content_type, filename, data }
    routing::RouteTask { id, channel, channel_kind, priority, age_ms, skills, language, preferred_agent, customer_attributes, transfers }
    routing::TransferHop { at, from_agent, to_agent, to_skills, by_supervisor }
    routing::Candidates { agents, idle_ms, load, free, skill_levels, speaks_language }
    botting::BotContext { conversation_id, channel, channel_kind, customer, language, history, transcript }
    botting::Handoff { reason, summary, skills, priority }
    crm_sync::CustomerMerge { survivor, merged_id }
    crm_sync::Interaction { customer, entry }
    crm_sync::ConversationClosed { conversation_id, customer, channel, disposition, transcript }
    crm_sync::ConversationNote { id, conversation_id, customer, channel, at, author, text, transfer_of }
}

both! { enums
    types::Trust { Verified, Claimed }
    types::ChannelKind { Voice, Chat, Messaging, Email }
    types::DeliveryStatus { Sent, Delivered, Read, Failed }
    types::CallState { Ringing, Queued, InProgress, Completed, NoAnswer, Busy, Failed, Canceled }
    types::ErrorKind { BadRequest, Unauthorized, Forbidden, NotFound, Unavailable, Internal }
    types::Direction { Inbound, Outbound }
    types::Author { Customer, Agent, Bot, System }
    host::LogLevel { Trace, Debug, Info, Warn, Error }
}

variants! {
    types::Identity { Email(x), Phone(x), Handle(x) }
    types::ChannelEvent { Message(x), Status(x), Call(x) }
    routing::Decision { Assign(x), Wait, Escalate(x) }
    botting::BotAction { Reply(x), Handoff(x), Resolve }
    host::HostError { Denied(x), Invalid(x), Unavailable(x) }
}

/// A 0.3 channel's description, with the rules 0.3 hosts applied: free
/// text at any time, no templates, no conversations an agent starts.
impl Adapt<new::channeling::ChannelInfo> for old::channeling::ChannelInfo {
    fn adapt(self) -> new::channeling::ChannelInfo {
        new::channeling::ChannelInfo {
            kind: self.kind.adapt(),
            display_name: self.display_name,
            supports_attachments: self.supports_attachments,
            rules: new::channeling::ChannelRules {
                free_text_window_ms: None,
                supports_templates: false,
                can_start: false,
            },
        }
    }
}

/// A message as a 0.3 channel knows it: without a template (the host sends
/// templates only to channels that declare them, which 0.3 ones cannot).
impl Adapt<old::channeling::OutboundMessage> for new::channeling::OutboundMessage {
    fn adapt(self) -> old::channeling::OutboundMessage {
        old::channeling::OutboundMessage {
            message_id: self.message_id,
            conversation_id: self.conversation_id,
            thread_key: self.thread_key,
            to: self.to.adapt(),
            text: self.text,
            attachments: self.attachments.adapt(),
            in_reply_to: self.in_reply_to,
            metadata: self.metadata,
        }
    }
}

/// The action as a 0.3 channel knows it; `None` for a callback, which 0.3
/// has no case for.
pub fn outbound_action(
    action: new::channeling::OutboundAction,
) -> Option<old::channeling::OutboundAction> {
    use new::channeling::OutboundAction as N;
    use old::channeling::OutboundAction as O;
    Some(match action {
        N::Message(m) => O::Message(m.adapt()),
        N::ConnectCall(c) => O::ConnectCall(c.adapt()),
        N::EndCall(id) => O::EndCall(id),
        N::CallCustomer(_) => return None,
    })
}

/// The event as a 0.3 CRM connector knows it; `None` for what 0.3 has no
/// case for (an erasure), which the host then does not send it.
pub fn crm_event(event: new::crm_sync::CrmEvent) -> Option<old::crm_sync::CrmEvent> {
    use new::crm_sync::CrmEvent as N;
    use old::crm_sync::CrmEvent as O;
    Some(match event {
        N::CustomerCreated(c) => O::CustomerCreated(c.adapt()),
        N::CustomerUpdated(c) => O::CustomerUpdated(c.adapt()),
        N::CustomersMerged(m) => O::CustomersMerged(m.adapt()),
        N::InteractionLogged(i) => O::InteractionLogged(i.adapt()),
        N::ConversationClosed(c) => O::ConversationClosed(c.adapt()),
        N::NoteAdded(n) => O::NoteAdded(n.adapt()),
        N::CustomerErased(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer() -> new::types::Customer {
        new::types::Customer {
            id: "cus_1".into(),
            display_name: None,
            identities: Vec::new(),
            attributes: Vec::new(),
        }
    }

    #[test]
    fn a_0_3_crm_is_not_sent_erasures() {
        let erased = new::crm_sync::CrmEvent::CustomerErased(new::crm_sync::CustomerErasure {
            customer: customer(),
            at: 1,
        });
        assert!(crm_event(erased).is_none());
        assert!(matches!(
            crm_event(new::crm_sync::CrmEvent::CustomerCreated(customer())),
            Some(old::crm_sync::CrmEvent::CustomerCreated(_))
        ));
    }

    #[test]
    fn a_0_3_channel_cannot_call_back_and_declares_what_0_3_hosts_allowed() {
        let callback =
            new::channeling::OutboundAction::CallCustomer(new::channeling::CallCustomer {
                callback_id: "cb_1".into(),
                to: new::types::Identity::Phone("+15550100".into()),
                from: None,
                agent_endpoint: "client:ann".into(),
            });
        assert!(outbound_action(callback).is_none());
        let info: new::channeling::ChannelInfo = old::channeling::ChannelInfo {
            kind: old::types::ChannelKind::Messaging,
            display_name: "Old".into(),
            supports_attachments: true,
        }
        .adapt();
        assert_eq!(info.rules.free_text_window_ms, None);
        assert!(!info.rules.supports_templates && !info.rules.can_start);
    }
}
