//! # switchboard-sdk — write Switchboard plugins
//!
//! A Switchboard plugin is a WebAssembly component (built for
//! `wasm32-wasip2`) plus a `plugin.toml` manifest. This crate is the only
//! dependency a plugin needs: it wraps the `switchboard:plugin@0.4.1` WIT
//! contract (in the repository's `wit/v0.4/` folder) in one trait per plugin
//! kind,
//! an export macro, and the helpers an author would otherwise write by hand.
//!
//! | kind | trait | export macro |
//! |---|---|---|
//! | `router` | [`Router`] | [`register_router!`] |
//! | `channel` | [`Channel`] | [`register_channel!`] |
//! | `bot` | [`Bot`] | [`register_bot!`] |
//! | `crm` | [`Crm`] | [`register_crm!`] |
//! | `automation` | [`Automation`] | [`register_automation!`] |
//!
//! ## A minimal routing policy
//!
//! ```no_run
//! use switchboard_sdk::{Candidates, Decision, RouteTask, Router};
//!
//! /// Gives each task to the least-loaded agent who has the skills it needs.
//! struct LeastLoaded;
//!
//! impl Router for LeastLoaded {
//!     fn select(task: &RouteTask, candidates: &Candidates) -> Decision {
//!         candidates
//!             .iter()
//!             .filter(|agent| agent.covers(&task.skills))
//!             .min_by_key(|agent| (agent.load, u64::MAX - agent.idle_ms))
//!             .map_or(Decision::Wait, |agent| Decision::Assign(agent.agent))
//!     }
//! }
//!
//! switchboard_sdk::register_router!(LeastLoaded);
//! ```
//!
//! with a `plugin.toml` next to `Cargo.toml`:
//!
//! ```toml
//! name = "least-loaded"
//! version = "0.1.0"
//! kind = "router"
//! api = "0.1"
//! description = "Least-loaded agent first"
//! ```
//!
//! and `crate-type = ["cdylib"]` in `Cargo.toml`. Build with
//! `cargo build --release --target wasm32-wasip2`, then copy
//! `target/wasm32-wasip2/release/least_loaded.wasm` to
//! `<plugins dir>/least-loaded/plugin.wasm` along with `plugin.toml`: the host
//! notices and loads it, no restart needed.
//!
//! ## The sandbox
//!
//! Every call runs in a fresh instance with the plugin's memory limit and
//! deadline; nothing but the [`kv`] store survives between calls. A plugin can
//! read its configuration ([`config`]), log ([`log`]), keep state ([`kv`], needs
//! `kv = true`), look up customers ([`customers`], needs `customers = "read"`)
//! and call HTTP APIs ([`http`], only hosts listed in `outbound_http`). Using a
//! capability that was not granted fails the call.

#![warn(missing_docs)]

extern crate self as switchboard_sdk;

mod ext;
mod wit;

pub mod config;
pub mod customers;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod http;
pub mod kv;
pub mod log;
pub mod signature;
pub mod webhook;

/// The WIT types, re-exported by name.
pub use wit::automation::switchboard::plugin::automating::{
    AutomationAction, AutomationEvent, SendMessage, Subject, Timer, Trigger,
};
pub use wit::base::switchboard::plugin::host::{HostError, HoursNow, LogLevel, QueueStanding};
pub use wit::base::switchboard::plugin::types::{
    Attachment, AttestedIdentity, Author, CallEvent, CallState, ChannelEvent, ChannelKind,
    Customer, DeliveryStatus, Direction, ErrorKind, Handle, HttpRequest, HttpResponse, Identity,
    InboundMessage, Metadata, PluginError, SkillRequirement, StatusUpdate, TimelineEntry, Trust,
};
pub use wit::bot::switchboard::plugin::botting::{BotAction, BotContext, Handoff};
pub use wit::channel::switchboard::plugin::channeling::{
    CallCustomer, ChannelInfo, ChannelRules, ConnectCall, Delivery, DeliveryError, Media,
    OutboundAction, OutboundMessage, TemplateMessage, WebhookOutcome,
};
pub use wit::crm::switchboard::plugin::crm_sync::{
    ConversationClosed, ConversationNote, CrmEvent, CustomerErasure, CustomerMerge, Interaction,
};
pub use wit::router::switchboard::plugin::routing::{Candidates, Decision, RouteTask, TransferHop};

pub use ext::{Candidate, covers_row};

/// The current wall-clock time in unix epoch milliseconds.
pub fn now_ms() -> u64 {
    wit::base::switchboard::plugin::host::now_ms()
}

/// The content of a file an agent sent, by the `url` of an attachment of
/// the outbound message being delivered: for providers that take files
/// rather than links (email attachments, a web chat serving its visitor).
/// Channels only.
pub fn attachment_data(url: &str) -> Result<Vec<u8>, HostError> {
    wit::base::switchboard::plugin::host::attachment_data(url)
}

/// How many agents could take a new task of `kind` right now (available,
/// with free capacity): 0 means nobody, e.g. to tell a visitor the team is
/// away.
pub fn agents_available(kind: ChannelKind) -> u32 {
    wit::base::switchboard::plugin::host::agents_available(kind)
}

/// Whether the `customer` (an identity this channel reported) still
/// has an open conversation on `thread_key`: false once an agent or a bot
/// closed it (the next message starts a new one) and when there was none.
/// Channels only.
pub fn conversation_open(customer: &Identity, thread_key: &str) -> bool {
    wit::base::switchboard::plugin::host::conversation_open(customer, thread_key)
}

/// Where the `customer`'s open conversation on `thread_key` waits for an
/// agent — her place among the waiting tasks of the channel's kind and the
/// estimated wait — or `None` when it is not waiting. Channels only.
pub fn queue_place(customer: &Identity, thread_key: &str) -> Option<QueueStanding> {
    wit::base::switchboard::plugin::host::queue_place(customer, thread_key)
}

/// Whether this channel is open by the host's business hours now, and
/// when that changes (also as local time in the calendar's zone, to say to
/// a customer). Open when no calendar applies. Channels only.
pub fn business_hours() -> HoursNow {
    wit::base::switchboard::plugin::host::business_hours()
}

/// Keeps a file the provider sent inside the webhook being handled (an
/// email's attachment posted with it) so agents can open it later: returns
/// the reference to put in the attachment's `url`. Channels only; at most
/// 20 files per call, each within the host's file size limit.
pub fn keep_attachment(
    content_type: &str,
    filename: Option<&str>,
    data: &[u8],
) -> Result<String, HostError> {
    wit::base::switchboard::plugin::host::keep_attachment(content_type, filename, data)
}

/// The metadata key under which the host names the agent who wrote an
/// outbound message (`OutboundMessage::metadata`), when an agent did.
pub const AGENT_NAME_KEY: &str = "switchboard-agent-name";

/// The metadata key under which the host marks an outbound message that
/// asks the customer a satisfaction survey, with its kind: `csat` (1-5),
/// `nps` (0-10) or `ces` (1-7). A channel with its own interface may show
/// a rating; the customer's answer comes back as a normal message (the
/// digit). Documented in contract 0.4.1.
pub const SURVEY_KEY: &str = "switchboard-survey";

/// `len` cryptographically secure random bytes (`wasi:random`), e.g. for a
/// signing key a plugin generates once and keeps in [`kv`].
pub fn random_bytes(len: u64) -> Vec<u8> {
    wasip2::random::random::get_random_bytes(len)
}

/// A routing policy (`kind = "router"`): which agent gets which task.
///
/// The host calls [`Router::select`] whenever a task could be placed (a task
/// arrives, an agent frees up, a reservation expires). It only offers agents
/// that are available and have free capacity on the task's channel kind; the
/// policy owns skill matching and ordering.
pub trait Router {
    /// Chooses an agent for `task` among `candidates`, or waits, or relaxes
    /// the task's skills.
    fn select(task: &RouteTask, candidates: &Candidates) -> Decision;

    /// The task's queue priority (higher first). Called once when the task is
    /// queued; the default keeps the channel's priority.
    fn prioritize(task: &RouteTask) -> u32 {
        task.priority
    }
}

/// A channel adapter (`kind = "channel"`): provider webhooks in, replies and
/// call actions out.
pub trait Channel {
    /// Describes the channel; called once at load.
    fn describe() -> ChannelInfo;

    /// Verifies and parses one webhook. See [`webhook`] for request helpers.
    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, PluginError>;

    /// Performs an outbound action at the provider. The default refuses every
    /// action permanently, for receive-only channels.
    fn deliver(action: OutboundAction) -> Result<Delivery, DeliveryError> {
        let _ = action;
        Err(DeliveryError::permanent("this channel cannot send"))
    }

    /// Downloads a media file the customer sent (an [`Attachment`] this
    /// channel reported, by its `url` or `media_id`) with the provider's
    /// credentials. The host calls it once, when an agent first opens the
    /// attachment, and keeps the bytes. The default refuses: the channel
    /// reports no inbound media.
    fn fetch_media(attachment: Attachment) -> Result<Media, PluginError> {
        let _ = attachment;
        Err(PluginError::new(
            ErrorKind::BadRequest,
            "this channel cannot fetch media",
        ))
    }
}

/// A bot (`kind = "bot"`): answers or triages conversations before a human.
pub trait Bot {
    /// Decides what to do with one inbound message.
    fn on_message(context: &BotContext, message: &InboundMessage) -> BotAction;
}

/// A CRM connector (`kind = "crm"`).
pub trait Crm {
    /// Receives one event; return an [`ErrorKind::Unavailable`] error to have
    /// the host retry it later. The default ignores events.
    fn on_event(event: &CrmEvent) -> Result<(), PluginError> {
        let _ = event;
        Ok(())
    }

    /// Attributes to set on the customer's profile. The default adds none.
    fn enrich(customer: &Customer) -> Result<Metadata, PluginError> {
        let _ = customer;
        Ok(Vec::new())
    }
}

/// An automation (`kind = "automation"`): journeys across channels. The
/// host calls it after what happened is stored, off the request path, and
/// performs the actions it answers through its normal paths.
pub trait Automation {
    /// The triggers to be called for (asked once at load); timers this
    /// plugin sets always come back.
    fn subscribe() -> Vec<Trigger>;

    /// What to do about one event; an error is logged, never retried.
    fn on_event(event: &AutomationEvent) -> Result<Vec<AutomationAction>, PluginError>;
}

/// Exports a type implementing [`Router`] as this component's routing policy.
#[macro_export]
macro_rules! register_router {
    ($t:ty) => {
        const _: () = {
            struct __SwitchboardRouter;
            impl $crate::__private::router::Guest for __SwitchboardRouter {
                fn select(
                    task: $crate::RouteTask,
                    candidates: $crate::Candidates,
                ) -> $crate::Decision {
                    <$t as $crate::Router>::select(&task, &candidates)
                }
                fn prioritize(task: $crate::RouteTask) -> u32 {
                    <$t as $crate::Router>::prioritize(&task)
                }
            }
            $crate::__private::router::export_router!(
                __SwitchboardRouter with_types_in $crate::__private::router
            );
        };
    };
}

/// Exports a type implementing [`Channel`] as this component's channel.
#[macro_export]
macro_rules! register_channel {
    ($t:ty) => {
        const _: () = {
            struct __SwitchboardChannel;
            impl $crate::__private::channel::Guest for __SwitchboardChannel {
                fn describe() -> $crate::ChannelInfo {
                    <$t as $crate::Channel>::describe()
                }
                fn handle_webhook(
                    request: $crate::HttpRequest,
                ) -> Result<$crate::WebhookOutcome, $crate::PluginError> {
                    <$t as $crate::Channel>::handle_webhook(request)
                }
                fn deliver(
                    action: $crate::OutboundAction,
                ) -> Result<$crate::Delivery, $crate::DeliveryError> {
                    <$t as $crate::Channel>::deliver(action)
                }
                fn fetch_media(
                    attachment: $crate::Attachment,
                ) -> Result<$crate::Media, $crate::PluginError> {
                    <$t as $crate::Channel>::fetch_media(attachment)
                }
            }
            $crate::__private::channel::export_channel!(
                __SwitchboardChannel with_types_in $crate::__private::channel
            );
        };
    };
}

/// Exports a type implementing [`Bot`] as this component's bot.
#[macro_export]
macro_rules! register_bot {
    ($t:ty) => {
        const _: () = {
            struct __SwitchboardBot;
            impl $crate::__private::bot::Guest for __SwitchboardBot {
                fn on_message(
                    context: $crate::BotContext,
                    message: $crate::InboundMessage,
                ) -> $crate::BotAction {
                    <$t as $crate::Bot>::on_message(&context, &message)
                }
            }
            $crate::__private::bot::export_bot!(__SwitchboardBot with_types_in $crate::__private::bot);
        };
    };
}

/// Exports a type implementing [`Crm`] as this component's CRM connector.
#[macro_export]
macro_rules! register_crm {
    ($t:ty) => {
        const _: () = {
            struct __SwitchboardCrm;
            impl $crate::__private::crm::Guest for __SwitchboardCrm {
                fn on_event(event: $crate::CrmEvent) -> Result<(), $crate::PluginError> {
                    <$t as $crate::Crm>::on_event(&event)
                }
                fn enrich(customer: $crate::Customer) -> Result<$crate::Metadata, $crate::PluginError> {
                    <$t as $crate::Crm>::enrich(&customer)
                }
            }
            $crate::__private::crm::export_crm!(__SwitchboardCrm with_types_in $crate::__private::crm);
        };
    };
}

/// Exports a type implementing [`Automation`] as this component's
/// automation.
#[macro_export]
macro_rules! register_automation {
    ($t:ty) => {
        const _: () = {
            struct __SwitchboardAutomation;
            impl $crate::__private::automation::Guest for __SwitchboardAutomation {
                fn subscribe() -> Vec<$crate::Trigger> {
                    <$t as $crate::Automation>::subscribe()
                }
                fn on_event(
                    event: $crate::AutomationEvent,
                ) -> Result<Vec<$crate::AutomationAction>, $crate::PluginError> {
                    <$t as $crate::Automation>::on_event(&event)
                }
            }
            $crate::__private::automation::export_automation!(
                __SwitchboardAutomation with_types_in $crate::__private::automation
            );
        };
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::wit::{automation, bot, channel, crm, router};
    pub use wit_bindgen;
}
