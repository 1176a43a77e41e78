//! The adapter that keeps `switchboard:plugin@0.2` components working under
//! the current contract (0.3): the shared types are the same in both, so
//! most of this is field-by-field copying; what 0.3 added is decided here,
//! once:
//! - a 0.2 router sees no transfer hops (`route-task.transfers`);
//! - a 0.2 CRM connector is not sent internal notes (`note-added`): it
//!   has no case for them, so [`crm_event`] says the event is not for it;
//! - a 0.2 channel has no `fetch-media`: the host reports that its
//!   attachments cannot be opened (see `runtime::exports`).

use super::adapt::Adapt;
use super::v0_2 as old;
use super::v0_3 as new;

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
    channeling::ChannelInfo { kind, display_name, supports_attachments }
    channeling::WebhookOutcome { response, events }
    channeling::OutboundMessage { message_id, conversation_id, thread_key, to, text, attachments, in_reply_to, metadata }
    channeling::ConnectCall { call_id, agent_endpoint }
    channeling::Delivery { provider_message_id }
    channeling::DeliveryError { retryable, message }
    routing::Candidates { agents, idle_ms, load, free, skill_levels, speaks_language }
    botting::BotContext { conversation_id, channel, channel_kind, customer, language, history, transcript }
    botting::Handoff { reason, summary, skills, priority }
    crm_sync::CustomerMerge { survivor, merged_id }
    crm_sync::Interaction { customer, entry }
    crm_sync::ConversationClosed { conversation_id, customer, channel, disposition, transcript }
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
    channeling::OutboundAction { Message(x), ConnectCall(x), EndCall(x) }
    routing::Decision { Assign(x), Wait, Escalate(x) }
    botting::BotAction { Reply(x), Handoff(x), Resolve }
    host::HostError { Denied(x), Invalid(x), Unavailable(x) }
}

/// A 0.2 router sees the task without its transfer hops.
impl Adapt<old::routing::RouteTask> for new::routing::RouteTask {
    fn adapt(self) -> old::routing::RouteTask {
        old::routing::RouteTask {
            id: self.id,
            channel: self.channel,
            channel_kind: self.channel_kind.adapt(),
            priority: self.priority,
            age_ms: self.age_ms,
            skills: self.skills.adapt(),
            language: self.language,
            preferred_agent: self.preferred_agent,
            customer_attributes: self.customer_attributes,
        }
    }
}

/// The event as a 0.2 CRM connector knows it; `None` for what 0.2 has no
/// case for (internal notes), which the host then does not send it.
pub fn crm_event(event: new::crm_sync::CrmEvent) -> Option<old::crm_sync::CrmEvent> {
    use new::crm_sync::CrmEvent as N;
    use old::crm_sync::CrmEvent as O;
    Some(match event {
        N::CustomerCreated(c) => O::CustomerCreated(c.adapt()),
        N::CustomerUpdated(c) => O::CustomerUpdated(c.adapt()),
        N::CustomersMerged(m) => O::CustomersMerged(m.adapt()),
        N::InteractionLogged(i) => O::InteractionLogged(i.adapt()),
        N::ConversationClosed(c) => O::ConversationClosed(c.adapt()),
        N::NoteAdded(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_0_2_router_sees_the_task_without_its_transfers() {
        let task = new::routing::RouteTask {
            id: "tsk_1".into(),
            channel: "chat".into(),
            channel_kind: new::types::ChannelKind::Chat,
            priority: 3,
            age_ms: 10,
            skills: vec![new::types::SkillRequirement {
                name: "billing".into(),
                min_level: 2,
            }],
            language: Some("en".into()),
            preferred_agent: Some(4),
            customer_attributes: vec![("tier".into(), "vip".into())],
            transfers: vec![new::routing::TransferHop {
                at: 5,
                from_agent: Some(4),
                to_agent: None,
                to_skills: Vec::new(),
                by_supervisor: false,
            }],
        };
        let old: old::routing::RouteTask = task.adapt();
        assert_eq!(old.priority, 3);
        assert_eq!(old.skills[0].name, "billing");
        assert_eq!(old.preferred_agent, Some(4));
    }

    #[test]
    fn a_0_2_crm_is_not_sent_notes() {
        let customer = new::types::Customer {
            id: "cus_1".into(),
            display_name: None,
            identities: Vec::new(),
            attributes: Vec::new(),
        };
        let note = new::crm_sync::CrmEvent::NoteAdded(new::crm_sync::ConversationNote {
            id: "note_1".into(),
            conversation_id: "con_1".into(),
            customer: customer.clone(),
            channel: "chat".into(),
            at: 1,
            author: "ann".into(),
            text: "called back".into(),
            transfer_of: None,
        });
        assert!(crm_event(note).is_none());
        assert!(matches!(
            crm_event(new::crm_sync::CrmEvent::CustomerCreated(customer)),
            Some(old::crm_sync::CrmEvent::CustomerCreated(_))
        ));
    }
}
