//! The adapter that keeps `switchboard:plugin@0.1` components working: its
//! types turned into 0.2's and back, field by field ([`super::adapt_v0_2`]
//! takes them on to the current contract). The [`Adapt`] trait and the
//! macros that write most conversions live here and serve both adapters.
//!
//! What 0.1 cannot say is decided here, once:
//! - identities a 0.1 channel reports carry no trust; the caller says which
//!   trust they get (see `runtime::load`: verified for the first-party
//!   channels whose provider signs every webhook, claimed for any other);
//! - a 0.1 plugin sees a customer's verified identities only (it has no way
//!   to tell a claim from a fact).

use super::v0_1 as old;
use super::v0_2 as new;
use new::types::Trust;

/// Converts one contract version's value into the other's.
pub trait Adapt<T> {
    /// The same value in the other version's types.
    fn adapt(self) -> T;
}

macro_rules! same {
    ($($t:ty),*) => {
        $(impl Adapt<$t> for $t {
            fn adapt(self) -> $t {
                self
            }
        })*
    };
}

same!(String, bool, u8, u16, u32, u64);

impl<A: Adapt<B>, B> Adapt<Vec<B>> for Vec<A> {
    fn adapt(self) -> Vec<B> {
        self.into_iter().map(Adapt::adapt).collect()
    }
}

impl<A: Adapt<B>, B> Adapt<Option<B>> for Option<A> {
    fn adapt(self) -> Option<B> {
        self.map(Adapt::adapt)
    }
}

impl<A: Adapt<C>, B: Adapt<D>, C, D> Adapt<(C, D)> for (A, B) {
    fn adapt(self) -> (C, D) {
        (self.0.adapt(), self.1.adapt())
    }
}

/// Records whose fields are the same in both versions (up to adapting).
macro_rules! records {
    ($($from:ty => $to:ident { $($field:ident),* $(,)? })*) => {
        $(impl Adapt<$to> for $from {
            fn adapt(self) -> $to {
                $to { $($field: self.$field.adapt()),* }
            }
        })*
    };
}

/// Enums whose cases are the same in both versions.
macro_rules! enums {
    ($($from:ty => $to:ty { $($case:ident),* $(,)? })*) => {
        $(impl Adapt<$to> for $from {
            fn adapt(self) -> $to {
                type From = $from;
                type To = $to;
                match self {
                    $(From::$case => To::$case),*
                }
            }
        })*
    };
}

/// Both directions of a record or enum that did not change.
macro_rules! both {
    (records $($a:ident :: $name:ident { $($field:ident),* $(,)? })*) => {
        $(
            impl Adapt<new::$a::$name> for old::$a::$name {
                fn adapt(self) -> new::$a::$name {
                    new::$a::$name { $($field: self.$field.adapt()),* }
                }
            }
            impl Adapt<old::$a::$name> for new::$a::$name {
                fn adapt(self) -> old::$a::$name {
                    old::$a::$name { $($field: self.$field.adapt()),* }
                }
            }
        )*
    };
    (enums $($a:ident :: $name:ident { $($case:ident),* $(,)? })*) => {
        $(
            enums! {
                old::$a::$name => new::$a::$name { $($case),* }
                new::$a::$name => old::$a::$name { $($case),* }
            }
        )*
    };
}

/// Variants whose cases carry the same payloads (up to adapting) in both
/// versions, in both directions.
macro_rules! variants {
    ($($a:ident :: $name:ident { $($case:ident $(($x:ident))?),* $(,)? })*) => {
        $(
            impl Adapt<new::$a::$name> for old::$a::$name {
                fn adapt(self) -> new::$a::$name {
                    match self {
                        $(old::$a::$name::$case $(($x))? => new::$a::$name::$case $(($x.adapt()))?),*
                    }
                }
            }
            impl Adapt<old::$a::$name> for new::$a::$name {
                fn adapt(self) -> old::$a::$name {
                    match self {
                        $(new::$a::$name::$case $(($x))? => old::$a::$name::$case $(($x.adapt()))?),*
                    }
                }
            }
        )*
    };
}

both! { records
    types::Handle { channel, value }
    types::Attachment { content_type, url, media_id, filename, size, caption }
    types::SkillRequirement { name, min_level }
    types::HttpRequest { method, path_with_query, headers, body }
    types::HttpResponse { status, headers, body }
    types::PluginError { kind, message }
    types::StatusUpdate { provider_message_id, status, error, at }
    types::TimelineEntry { id, at, channel, conversation_id, direction, author, text, attachments, status }
    channeling::ChannelInfo { kind, display_name, supports_attachments }
    channeling::ConnectCall { call_id, agent_endpoint }
    channeling::Delivery { provider_message_id }
    channeling::DeliveryError { retryable, message }
    routing::RouteTask { id, channel, channel_kind, priority, age_ms, skills, language, preferred_agent, customer_attributes }
    routing::Candidates { agents, idle_ms, load, free, skill_levels, speaks_language }
    botting::Handoff { reason, summary, skills, priority }
}

both! { enums
    types::ChannelKind { Voice, Chat, Messaging, Email }
    types::DeliveryStatus { Sent, Delivered, Read, Failed }
    types::CallState { Ringing, Queued, InProgress, Completed, NoAnswer, Busy, Failed, Canceled }
    types::ErrorKind { BadRequest, Unauthorized, Forbidden, NotFound, Unavailable, Internal }
    types::Direction { Inbound, Outbound }
    types::Author { Customer, Agent, Bot, System }
    host::LogLevel { Trace, Debug, Info, Warn, Error }
}

impl Adapt<new::types::Identity> for old::types::Identity {
    fn adapt(self) -> new::types::Identity {
        use old::types::Identity as O;
        match self {
            O::Email(e) => new::types::Identity::Email(e),
            O::Phone(p) => new::types::Identity::Phone(p),
            O::Handle(h) => new::types::Identity::Handle(h.adapt()),
        }
    }
}

impl Adapt<old::types::Identity> for new::types::Identity {
    fn adapt(self) -> old::types::Identity {
        use new::types::Identity as N;
        match self {
            N::Email(e) => old::types::Identity::Email(e),
            N::Phone(p) => old::types::Identity::Phone(p),
            N::Handle(h) => old::types::Identity::Handle(h.adapt()),
        }
    }
}

/// The verified identities only: 0.1 cannot tell a claim from a fact.
fn verified(identities: Vec<new::types::AttestedIdentity>) -> Vec<old::types::Identity> {
    identities
        .into_iter()
        .filter(|i| i.trust == Trust::Verified)
        .map(|i| i.identity.adapt())
        .collect()
}

fn attested(identity: old::types::Identity, trust: Trust) -> new::types::AttestedIdentity {
    new::types::AttestedIdentity {
        identity: identity.adapt(),
        trust,
    }
}

impl Adapt<old::types::Customer> for new::types::Customer {
    fn adapt(self) -> old::types::Customer {
        old::types::Customer {
            id: self.id,
            display_name: self.display_name,
            identities: verified(self.identities),
            attributes: self.attributes,
        }
    }
}

impl Adapt<old::types::InboundMessage> for new::types::InboundMessage {
    fn adapt(self) -> old::types::InboundMessage {
        old::types::InboundMessage {
            provider_message_id: self.provider_message_id,
            thread_key: self.thread_key,
            identities: verified(self.identities),
            display_name: self.display_name,
            text: self.text,
            attachments: self.attachments.adapt(),
            sent_at: self.sent_at,
            metadata: self.metadata,
        }
    }
}

/// What a 0.1 channel reported for one webhook, its identities given
/// `trust`.
pub fn webhook_outcome(
    outcome: old::channeling::WebhookOutcome,
    trust: Trust,
) -> new::channeling::WebhookOutcome {
    new::channeling::WebhookOutcome {
        response: outcome.response.adapt(),
        events: outcome
            .events
            .into_iter()
            .map(|e| channel_event(e, trust))
            .collect(),
    }
}

fn channel_event(event: old::types::ChannelEvent, trust: Trust) -> new::types::ChannelEvent {
    use new::types::ChannelEvent as N;
    match event {
        old::types::ChannelEvent::Message(m) => N::Message(new::types::InboundMessage {
            provider_message_id: m.provider_message_id,
            thread_key: m.thread_key,
            identities: m
                .identities
                .into_iter()
                .map(|i| attested(i, trust))
                .collect(),
            display_name: m.display_name,
            text: m.text,
            attachments: m.attachments.adapt(),
            sent_at: m.sent_at,
            metadata: m.metadata,
        }),
        old::types::ChannelEvent::Status(s) => N::Status(s.adapt()),
        old::types::ChannelEvent::Call(c) => N::Call(new::types::CallEvent {
            call_id: c.call_id,
            state: c.state.adapt(),
            from: c.from.map(|i| attested(i, trust)),
            to: c.to,
            display_name: c.display_name,
            at: c.at,
            metadata: c.metadata,
        }),
    }
}

impl Adapt<old::channeling::OutboundAction> for new::channeling::OutboundAction {
    fn adapt(self) -> old::channeling::OutboundAction {
        use old::channeling::OutboundAction as O;
        match self {
            new::channeling::OutboundAction::Message(m) => {
                O::Message(old::channeling::OutboundMessage {
                    message_id: m.message_id,
                    conversation_id: m.conversation_id,
                    thread_key: m.thread_key,
                    to: m.to.adapt(),
                    text: m.text,
                    attachments: m.attachments.adapt(),
                    in_reply_to: m.in_reply_to,
                    metadata: m.metadata,
                })
            }
            new::channeling::OutboundAction::ConnectCall(c) => O::ConnectCall(c.adapt()),
            new::channeling::OutboundAction::EndCall(id) => O::EndCall(id),
        }
    }
}

impl Adapt<new::routing::Decision> for old::routing::Decision {
    fn adapt(self) -> new::routing::Decision {
        use new::routing::Decision as N;
        match self {
            old::routing::Decision::Assign(agent) => N::Assign(agent),
            old::routing::Decision::Wait => N::Wait,
            old::routing::Decision::Escalate(skills) => N::Escalate(skills.adapt()),
        }
    }
}

impl Adapt<old::botting::BotContext> for new::botting::BotContext {
    fn adapt(self) -> old::botting::BotContext {
        old::botting::BotContext {
            conversation_id: self.conversation_id,
            channel: self.channel,
            channel_kind: self.channel_kind.adapt(),
            customer: self.customer.adapt(),
            language: self.language,
            history: self.history.adapt(),
            transcript: self.transcript.adapt(),
        }
    }
}

impl Adapt<new::botting::BotAction> for old::botting::BotAction {
    fn adapt(self) -> new::botting::BotAction {
        use new::botting::BotAction as N;
        match self {
            old::botting::BotAction::Reply(text) => N::Reply(text),
            old::botting::BotAction::Handoff(h) => N::Handoff(h.adapt()),
            old::botting::BotAction::Resolve => N::Resolve,
        }
    }
}

records! {
    new::crm_sync::CustomerMerge => OldCustomerMerge { survivor, merged_id }
    new::crm_sync::Interaction => OldInteraction { customer, entry }
    new::crm_sync::ConversationClosed => OldConversationClosed {
        conversation_id, customer, channel, disposition, transcript,
    }
}
use old::crm_sync::{
    ConversationClosed as OldConversationClosed, CustomerMerge as OldCustomerMerge,
    Interaction as OldInteraction,
};

impl Adapt<old::crm_sync::CrmEvent> for new::crm_sync::CrmEvent {
    fn adapt(self) -> old::crm_sync::CrmEvent {
        use new::crm_sync::CrmEvent as N;
        use old::crm_sync::CrmEvent as O;
        match self {
            N::CustomerCreated(c) => O::CustomerCreated(c.adapt()),
            N::CustomerUpdated(c) => O::CustomerUpdated(c.adapt()),
            N::CustomersMerged(m) => O::CustomersMerged(m.adapt()),
            N::InteractionLogged(i) => O::InteractionLogged(i.adapt()),
            N::ConversationClosed(c) => O::ConversationClosed(c.adapt()),
        }
    }
}

impl Adapt<old::host::HostError> for new::host::HostError {
    fn adapt(self) -> old::host::HostError {
        use new::host::HostError as N;
        use old::host::HostError as O;
        match self {
            N::Denied(m) => O::Denied(m),
            N::Invalid(m) => O::Invalid(m),
            N::Unavailable(m) => O::Unavailable(m),
        }
    }
}

impl<A: Adapt<C>, B: Adapt<D>, C, D> Adapt<Result<C, D>> for Result<A, B> {
    fn adapt(self) -> Result<C, D> {
        match self {
            Ok(a) => Ok(a.adapt()),
            Err(b) => Err(b.adapt()),
        }
    }
}

same!(());

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(p: &str) -> old::types::Identity {
        old::types::Identity::Phone(p.into())
    }

    #[test]
    fn a_0_1_channel_s_identities_get_the_trust_the_host_gives_them() {
        let outcome = old::channeling::WebhookOutcome {
            response: old::types::HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: b"ok".to_vec(),
            },
            events: vec![old::types::ChannelEvent::Message(
                old::types::InboundMessage {
                    provider_message_id: "m1".into(),
                    thread_key: "t".into(),
                    identities: vec![phone("+15550100")],
                    display_name: None,
                    text: "hi".into(),
                    attachments: Vec::new(),
                    sent_at: None,
                    metadata: Vec::new(),
                },
            )],
        };
        let adapted = webhook_outcome(outcome, Trust::Claimed);
        assert_eq!(adapted.response.body, b"ok");
        let new::types::ChannelEvent::Message(m) = &adapted.events[0] else {
            panic!("a message");
        };
        assert_eq!(m.identities[0].trust, Trust::Claimed);
        assert!(matches!(
            &m.identities[0].identity,
            new::types::Identity::Phone(p) if p == "+15550100"
        ));
    }

    #[test]
    fn a_0_1_plugin_sees_verified_identities_only() {
        let customer = new::types::Customer {
            id: "cus_1".into(),
            display_name: None,
            identities: vec![
                new::types::AttestedIdentity {
                    identity: new::types::Identity::Email("ann@example.com".into()),
                    trust: Trust::Verified,
                },
                new::types::AttestedIdentity {
                    identity: new::types::Identity::Phone("+15550100".into()),
                    trust: Trust::Claimed,
                },
            ],
            attributes: Vec::new(),
        };
        let old: old::types::Customer = customer.adapt();
        assert_eq!(old.identities.len(), 1);
        assert!(matches!(&old.identities[0], old::types::Identity::Email(_)));
    }
}
