//! The contact-center core: what happens when a channel reports something,
//! an agent or an admin acts, or a background stage has work — across
//! customers, conversations and routing. The API calls [`Core`]'s methods
//! and nothing else; each does the whole job, durability included (it
//! returns once its writes are on disk).
//!
//! | file | what it holds |
//! |---|---|
//! | `inbound.rs` | a webhook → the channel plugin → messages, delivery reports |
//! | `calls.rs` | voice call events: a ringing call opens a task, a hang-up ends it |
//! | `agents.rs` | agents and their actions: status, accept, reject, complete, reply |
//! | `profiles.rs` | customer profiles: look-up, attributes, merges, audit |
//! | `views.rs` | read models: conversations, timelines, queue, stats, plugin look-ups |
//! | `plugins.rs` | plugin administration: list, upload, reload, enable, disable |
//! | `outbox.rs`, `crm.rs`, `bots.rs` | the stages that hand work to plugins through durable queues |
//! | `error.rs` | [`CoreError`] and the [`Failure`] kinds the API maps to statuses |
//!
//! Writes that touch customers and conversations run under one short write
//! gate (no awaits inside it), so identity resolution and idempotency checks
//! see a consistent store.

mod accounts;
mod agents;
mod automation_actions;
mod automations;
mod bots;
mod callbacks;
mod calls;
mod consent;
mod crm;
mod erasure;
mod error;
mod export;
mod feeds;
mod floor;
mod folding;
mod hours;
mod inbound;
mod media;
mod outbox;
mod outreach;
mod plugins;
mod profiles;
mod reports;
mod retention;
mod surveys;
mod views;
mod waiting;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;

use crate::accounts::Accounts;
use crate::attachments::Files;
use crate::audit::Audit;
use crate::canned::CannedResponses;
use crate::clock::now_ms;
use crate::config::Config;
use crate::conversations::Conversations;
use crate::customers::Customers;
use crate::events::{Event, Events};
use crate::redaction::Redactor;
use crate::routing::Routing;
use crate::routing::trend::{self, Trend};
use crate::runtime::Runtime;
use crate::store::{Store, StoreError};

use bots::Bots;
use crm::Crm;
use outbox::Outbox;

pub use crate::accounts::Session;
pub use crate::store::HistoryEvent;
pub use automations::{AutomationEntry, AutomationItem, TriggerName};
pub use callbacks::CALLBACK_FAILED;
pub use crm::{Change as CrmChange, CrmEntry, CrmItem};
pub use error::{CoreError, Failure};
pub use floor::{ConversationFilter, RenderedCanned};
pub use hours::OverrideInput;
pub use inbound::Ingested;
pub use media::FileUpload;
pub use outbox::{CallAction, OutboxEntry, OutboxItem};
pub use outreach::{ChannelView, StartConversation, Started, TemplateInput, TemplateView};
pub use reports::{AgentRow, GroupBy, IntervalRow, SurveyRow};
pub use views::Directory;

// The records the API shows, re-exported on purpose so that it needs no
// module but this one.
pub use crate::audit::{AuditEntry, AuditFilter};
pub use crate::canned::{CannedInput, CannedResponse};
pub use crate::conversations::{Conversation, ConversationStatus, Message, Note};
pub use crate::customers::{Consent, Customer, Identity, MergeSuggestion};
pub use crate::feeds::{CreatedFeed, FeedInput, FeedView};
pub use crate::hours::{CalendarStatus, Hours, Override};
pub use crate::routing::trend::Sample;
pub use crate::routing::{
    Actor, Agent, AgentInput, AgentStatus, QueueEntry, Role, Skill, Stats, Task, TaskAction,
    TaskEvent, Transfer, TransferTarget,
};
pub use crate::runtime::{PluginInfo, RuntimeStats};
pub use crate::wit::types::{HttpRequest, HttpResponse};
pub use erasure::Erasure;
pub use export::{ConversationExport, SubjectExport};
pub use retention::RetentionStatus;

/// The core services, wired together.
pub struct Core {
    store: Store,
    customers: Arc<Customers>,
    conversations: Arc<Conversations>,
    routing: Routing,
    outbox: Outbox,
    crm: Crm,
    bots: Bots,
    events: Events,
    /// Waiting tasks over the last hour.
    trend: Arc<Trend>,
    runtime: Runtime,
    /// Skills every task of a channel requires.
    channel_skills: BTreeMap<String, BTreeMap<String, u8>>,
    /// How many identities one message may attest.
    max_identities: usize,
    /// What the floor allows: dispositions and labels.
    floor: FloorRules,
    /// Saved answers.
    canned: CannedResponses,
    /// Files customers sent, once opened.
    media: media::MediaFiles,
    /// Passwords and sessions.
    accounts: Accounts,
    /// What is masked in message text before it is stored.
    redactor: Redactor,
    /// Opt-out and opt-in keywords.
    consent: consent::ConsentRules,
    /// The audit trail.
    audit: Audit,
    /// How long message text and files are kept.
    retention: crate::config::RetentionConfig,
    /// Business hours, and the overrides in force.
    hours: Hours,
    /// The after-hours auto-reply per language (`[hours] auto_reply`).
    hours_replies: BTreeMap<String, String>,
    /// The queued acknowledgement per language (`[routing] queued_reply`).
    queued_replies: BTreeMap<String, String>,
    /// Approved templates per channel (`[templates]`).
    templates: BTreeMap<String, BTreeMap<String, crate::config::TemplateConfig>>,
    /// How callers who asked for it are called back.
    callbacks: crate::config::CallbackConfig,
    /// Satisfaction surveys by channel (`[surveys.<channel>]`).
    surveys: BTreeMap<String, crate::config::SurveyConfig>,
    /// What waits for the automation plugins.
    automations: automations::Automations,
    /// The event feed's outbound webhooks.
    feeds: Arc<crate::feeds::Feeds>,
    /// SLA targets per kind, for reports.
    sla_ms: crate::config::PerKind<u64>,
    /// The first-contact-resolution window, in ms.
    fcr_ms: u64,
    gate: Mutex<()>,
}

/// The configured lists agents choose from.
struct FloorRules {
    /// `routing.dispositions`; empty allows any.
    dispositions: Vec<String>,
    /// `floor.labels`; empty allows any well-formed label.
    labels: Vec<String>,
}

impl Core {
    /// Wires the services together and loads agents and tasks (nothing
    /// runs until [`Core::start`]).
    pub fn new(
        config: &Config,
        store: Store,
        customers: Arc<Customers>,
        conversations: Arc<Conversations>,
        runtime: Runtime,
        events: Events,
        (files, hours): (Arc<Files>, Hours),
    ) -> Result<Core, StoreError> {
        hours::load_overrides(&store, &hours)?;
        let routing = Routing::new(
            store.clone(),
            runtime.clone(),
            customers.clone(),
            (config.routing.clone(), hours.clone()),
            events.clone(),
        )?;
        let outbox = Outbox::new(
            store.clone(),
            runtime.clone(),
            (conversations.clone(), customers.clone()),
            &config.outbox,
            events.clone(),
        );
        runtime.set_floor(Arc::new(routing.floor_view()));
        let canned = CannedResponses::new(store.clone());
        let accounts_store = store.clone();
        let audit = Audit::new(store.clone());
        let automations = automations::Automations::new(store.clone());
        let feeds = crate::feeds::Feeds::new(store.clone(), config.feeds.clone());
        Ok(Core {
            crm: Crm::new(store.clone(), runtime.clone(), config.crm.clone()),
            bots: Bots::new(store.clone(), config),
            store,
            customers,
            conversations,
            routing,
            outbox,
            events,
            trend: Arc::default(),
            runtime,
            channel_skills: config.routing.channel_skills.clone(),
            max_identities: config.customers.max_identities_per_event,
            floor: FloorRules {
                dispositions: config.routing.dispositions.clone(),
                labels: config.floor.labels.clone(),
            },
            canned,
            media: media::MediaFiles::new(files),
            accounts: Accounts::new(accounts_store),
            redactor: Redactor::new(&config.redaction),
            consent: consent::ConsentRules::new(&config.consent),
            audit,
            retention: config.retention.clone(),
            hours,
            hours_replies: config.hours.auto_reply.clone(),
            queued_replies: config.routing.queued_reply.clone(),
            templates: config.templates.clone(),
            callbacks: config.callbacks.clone(),
            surveys: config.surveys.clone(),
            automations,
            feeds,
            sla_ms: config.routing.sla_ms,
            fcr_ms: u64::from(config.reports.fcr_days) * 86_400_000,
            gate: Mutex::new(()),
        })
    }

    /// Starts the dispatcher, the outbox, CRM and bot workers, and the
    /// queue sampler.
    pub fn start(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let (routing, trend, events) = (
            self.routing.clone(),
            self.trend.clone(),
            self.events.clone(),
        );
        let sampler = tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(std::time::Duration::from_millis(trend::INTERVAL_MS));
            loop {
                tokio::select! {
                    _ = tick.tick() => trend.record(Sample::of(&routing.stats(), now_ms())),
                    _ = events.closed() => return,
                }
            }
        });
        let mut workers = vec![
            self.routing.start(),
            self.outbox.start(),
            bots::start(self.clone()),
            crm::start(self.clone()),
            retention::start(self.clone(), &self.retention),
            folding::start(self.clone()),
            sampler,
        ];
        workers.extend(automations::start(self.clone()));
        if let Err(e) = self.feeds.start() {
            tracing::error!(error = %e, "the event feeds could not start");
        }
        workers
    }

    /// Ends live event streams and long-polls; the workers finish their
    /// current item and stop.
    pub fn close(&self) {
        self.events.close();
        self.feeds.close();
    }

    /// Stops the dispatcher (after [`Core::close`]).
    pub fn stop(&self) {
        self.routing.stop();
    }

    /// Live events, for `/api/events` and webhook long-polls.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Follows which conversation threads change, for held webhook reads.
    pub fn subscribe_threads(&self) -> broadcast::Receiver<Arc<(String, String)>> {
        self.events.subscribe_threads()
    }

    /// Resolves once the host is shutting down.
    pub async fn closed(&self) {
        self.events.closed().await
    }

    fn gate(&self) -> MutexGuard<'_, ()> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Tells listeners that a message's delivery status changed (and held
/// reads of its thread, when known).
fn publish_status(
    events: &Events,
    message: &Message,
    customer: Option<&str>,
    thread: Option<&str>,
) {
    if let Some(thread) = thread {
        events.touched(&message.channel, thread);
    }
    events.publish(|| Event {
        kind: "message.status",
        at: now_ms(),
        agent_id: message.agent_id.clone(),
        task_id: None,
        conversation_id: Some(message.conversation_id.clone()),
        customer_id: customer.map(str::to_string),
        data: serde_json::to_value(message).unwrap_or_default(),
    });
}
