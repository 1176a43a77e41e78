//! Automation plugins (contract 0.4.1): what happens in the centre — a
//! task queued or abandoned, a conversation resolved, a customer's message,
//! business hours opening or closing — is written to a durable queue as it
//! is published, and each automation plugin subscribed to it is called off
//! the request path; the actions it answers are performed through the
//! normal paths (`automation_actions.rs`). A timer an automation sets is an
//! entry of the same queue, due later, for that plugin only.
//!
//! A failing, slow or trapping automation never holds anything up: the
//! event that triggered it was stored and acknowledged before, its call has
//! the plugin's own deadline, and its failure is logged and counted, not
//! retried (a journey step is not worth sending twice).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use crate::clock::now_ms;
use crate::conversations::{Author, Direction};
use crate::customers::IdentityKind;
use crate::events::Event;
use crate::routing::TaskState;
use crate::runtime::PluginKind;
use crate::store::{Backoff, Batch, DurableQueue, Entry, Store, StoreError, Verdict, keys};
use crate::wit::automating::{AutomationEvent, Subject, Trigger};
use crate::wit::types::Identity;

use super::callbacks::CALLBACK_FAILED;
use super::{Core, CoreError};

/// What happened, as the queue keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerName {
    /// A task joined the queue.
    TaskQueued,
    /// A waiting task ended because the customer left (an unanswered call,
    /// a failed callback).
    TaskAbandoned,
    /// An agent completed a task.
    ConversationResolved,
    /// The customer wrote.
    MessageReceived,
    /// A calendar opened.
    HoursOpened,
    /// A calendar closed.
    HoursClosed,
    /// An automation's timer.
    Timer,
}

impl TriggerName {
    fn to_wit(self) -> Trigger {
        match self {
            TriggerName::TaskQueued => Trigger::TaskQueued,
            TriggerName::TaskAbandoned => Trigger::TaskAbandoned,
            TriggerName::ConversationResolved => Trigger::ConversationResolved,
            TriggerName::MessageReceived => Trigger::MessageReceived,
            TriggerName::HoursOpened => Trigger::HoursOpened,
            TriggerName::HoursClosed => Trigger::HoursClosed,
            TriggerName::Timer => Trigger::Timer,
        }
    }

    fn of_wit(trigger: Trigger) -> TriggerName {
        match trigger {
            Trigger::TaskQueued => TriggerName::TaskQueued,
            Trigger::TaskAbandoned => TriggerName::TaskAbandoned,
            Trigger::ConversationResolved => TriggerName::ConversationResolved,
            Trigger::MessageReceived => TriggerName::MessageReceived,
            Trigger::HoursOpened => TriggerName::HoursOpened,
            Trigger::HoursClosed => TriggerName::HoursClosed,
            Trigger::Timer => TriggerName::Timer,
        }
    }
}

/// One thing for the automations to look at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AutomationItem {
    /// What happened.
    pub trigger: TriggerName,
    /// The one plugin it is for (a timer's owner); none: every plugin
    /// subscribed to the trigger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// The conversation it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The customer's message (`message_received`): its text is read when
    /// the plugin is called, so the queue keeps no copy of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// A timer's tag, or the calendar of an hours event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// When it happened, or when the timer was set to go off (unix ms).
    pub at: u64,
}

/// An item waiting in the queue (a timer, until it is due).
pub type AutomationEntry = Entry<AutomationItem>;

/// The queue, and what the plugins subscribed to.
pub(super) struct Automations {
    pub(super) queue: DurableQueue<AutomationItem>,
    /// Each plugin's triggers, asked once per loaded version.
    subscriptions: Mutex<HashMap<String, (SystemTime, Vec<TriggerName>)>>,
    /// Which calendars were open at the last look (none before the first).
    hours_seen: Mutex<Option<BTreeMap<String, bool>>>,
}

impl Automations {
    pub(super) fn new(store: Store) -> Self {
        // Not retried: a failure is the plugin's, and a journey step sent
        // twice is worse than one missed.
        let backoff = Backoff {
            max_attempts: 1,
            base_ms: 1_000,
            max_ms: 1_000,
        };
        Automations {
            queue: DurableQueue::new(store, keys::AUTOMATIONS, backoff),
            subscriptions: Mutex::new(HashMap::new()),
            hours_seen: Mutex::new(None),
        }
    }
}

/// The item a published event makes, if automations care about it.
fn item_of(event: &Event) -> Option<AutomationItem> {
    let item = |trigger| AutomationItem {
        trigger,
        plugin: None,
        conversation_id: event.conversation_id.clone(),
        message_id: None,
        tag: None,
        at: event.at,
    };
    let data = &event.data;
    match event.kind {
        "task.created" if data["state"] == "pending" => Some(item(TriggerName::TaskQueued)),
        "task.canceled" if data["abandoned"] == true => Some(item(TriggerName::TaskAbandoned)),
        "task.completed" if data["disposition"] == CALLBACK_FAILED => {
            Some(item(TriggerName::TaskAbandoned))
        }
        "task.completed" => Some(item(TriggerName::ConversationResolved)),
        "message.created" => {
            let customer = serde_json::from_value::<Author>(data["author"].clone())
                .is_ok_and(|a| a == Author::Customer)
                && serde_json::from_value::<Direction>(data["direction"].clone())
                    .is_ok_and(|d| d == Direction::Inbound);
            customer.then(|| AutomationItem {
                message_id: data["id"].as_str().map(str::to_string),
                ..item(TriggerName::MessageReceived)
            })
        }
        _ => None,
    }
}

/// Starts the listener (published events into the queue) and the worker
/// (the queue through the plugins).
pub(super) fn start(core: Arc<Core>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut events = core.subscribe();
    let listener = {
        let core = core.clone();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    event = events.recv() => event,
                    _ = core.events.closed() => return,
                };
                match event {
                    Ok(event) => {
                        if let Some(item) = item_of(&event)
                            && core.has_automations()
                        {
                            core.queue_automation(item, 0);
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        metrics::counter!("switchboard_automation_events_missed_total")
                            .increment(missed);
                        tracing::warn!(missed, "automations missed events: the host is too busy");
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        })
    };
    let worker = tokio::spawn(async move {
        loop {
            core.watch_hours();
            let next = core.run_automations().await;
            let next = next.map(|at| {
                let hours = core.hours.next_change_any(now_ms());
                [at, hours].into_iter().flatten().min()
            });
            let closed = core.events.closed();
            if !core
                .automations
                .queue
                .wait("automations", next, closed)
                .await
            {
                return;
            }
        }
    });
    vec![listener, worker]
}

impl Core {
    fn has_automations(&self) -> bool {
        !self
            .runtime
            .loaded_of_kind(PluginKind::Automation)
            .is_empty()
    }

    /// Writes `item` to the queue, due at `at` (0: now). Not synced: an
    /// automation is a follow-up, and waiting for the disk would slow what
    /// triggered it for nothing.
    pub(super) fn queue_automation(&self, item: AutomationItem, at: u64) {
        let mut batch = Batch::new();
        let pushed = self
            .automations
            .queue
            .push_at(&mut batch, item, at)
            .map_err(CoreError::from)
            .and_then(|_| Ok(self.store.write(batch)?));
        match pushed {
            Ok(_) => self.automations.queue.wake(),
            Err(e) => tracing::error!(error = %e, "an automation event could not be queued"),
        }
    }

    /// Queues an hours event for every calendar that opened or closed
    /// since the last look.
    fn watch_hours(&self) {
        let now: BTreeMap<String, bool> = self
            .hours_status()
            .into_iter()
            .map(|c| (c.name, c.open))
            .collect();
        let previous = self
            .automations
            .hours_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(now.clone());
        let Some(previous) = previous else {
            return;
        };
        if !self.has_automations() {
            return;
        }
        for (calendar, open) in now {
            if previous.get(&calendar).is_some_and(|&was| was != open) {
                let trigger = if open {
                    TriggerName::HoursOpened
                } else {
                    TriggerName::HoursClosed
                };
                self.queue_automation(
                    AutomationItem {
                        trigger,
                        plugin: None,
                        conversation_id: None,
                        message_id: None,
                        tag: Some(calendar),
                        at: now_ms(),
                    },
                    0,
                );
            }
        }
    }

    /// Runs every due item; returns when the next one is due.
    async fn run_automations(&self) -> Result<Option<u64>, StoreError> {
        let mut round = self.automations.queue.round(|_| None::<()>)?;
        while let Some(entry) = round.next_due() {
            if self.events.is_closed() {
                break;
            }
            // Out of the queue first: at most once, even across a crash.
            self.automations.queue.discard(&entry)?;
            round.settled(Verdict::Done);
            self.run_automation(&entry.item).await;
        }
        Ok(round.next_at())
    }

    /// Calls the plugins `item` is for, and performs what they answer.
    async fn run_automation(&self, item: &AutomationItem) {
        let plugins = match &item.plugin {
            Some(plugin) => vec![plugin.clone()],
            None => self.subscribed(item.trigger).await,
        };
        for plugin in plugins {
            let reads_customers = self.runtime.serving(&plugin).is_some_and(|(_, r)| r);
            let subject = match &item.conversation_id {
                Some(id) => match self.subject(id, item.message_id.as_deref(), reads_customers) {
                    Ok(Some(subject)) => Some(subject),
                    // Gone or erased since: nothing to tell.
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!(conversation = %id, error = %e, "automation subject unavailable");
                        return;
                    }
                },
                None => None,
            };
            let event = AutomationEvent {
                trigger: item.trigger.to_wit(),
                at: item.at,
                subject,
                tag: item.tag.clone(),
            };
            let actions = match self.runtime.automation_on_event(&plugin, &event).await {
                Ok(Ok(actions)) => actions,
                Ok(Err(e)) => {
                    tracing::info!(%plugin, trigger = ?item.trigger, error = %e.message, "the automation reported an error");
                    metrics::counter!("switchboard_automation_failures_total", "plugin" => plugin.clone()).increment(1);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(%plugin, trigger = ?item.trigger, error = %e, "the automation failed");
                    metrics::counter!("switchboard_automation_failures_total", "plugin" => plugin.clone()).increment(1);
                    continue;
                }
            };
            for action in actions {
                let what = format!("{action:?}");
                match self.perform(&plugin, item, action).await {
                    Ok(()) => {
                        metrics::counter!("switchboard_automation_actions_total", "plugin" => plugin.clone()).increment(1);
                    }
                    Err(e) => {
                        tracing::info!(%plugin, action = %what, error = %e, "an automation's action was refused");
                        metrics::counter!("switchboard_automation_refusals_total", "plugin" => plugin.clone()).increment(1);
                    }
                }
            }
        }
    }

    /// The loaded automations subscribed to `trigger`.
    async fn subscribed(&self, trigger: TriggerName) -> Vec<String> {
        let mut out = Vec::new();
        for name in self.runtime.loaded_of_kind(PluginKind::Automation) {
            let Some((loaded_at, _)) = self.runtime.serving(&name) else {
                continue;
            };
            let cached = self
                .automations
                .subscriptions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&name)
                .filter(|(at, _)| *at == loaded_at)
                .map(|(_, triggers)| triggers.clone());
            let triggers = match cached {
                Some(triggers) => triggers,
                None => match self.runtime.automation_subscribe(&name).await {
                    Ok(list) => {
                        let triggers: Vec<TriggerName> =
                            list.into_iter().map(TriggerName::of_wit).collect();
                        self.automations
                            .subscriptions
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(name.clone(), (loaded_at, triggers.clone()));
                        triggers
                    }
                    Err(e) => {
                        tracing::warn!(plugin = %name, error = %e, "subscribe failed");
                        continue;
                    }
                },
            };
            if triggers.contains(&trigger) {
                out.push(name);
            }
        }
        out
    }

    /// Conversation `id` as an automation sees it now; `None` when it is
    /// gone or its customer was erased.
    fn subject(
        &self,
        id: &str,
        message_id: Option<&str>,
        reads_customers: bool,
    ) -> Result<Option<Subject>, CoreError> {
        let Some(conversation) = self.conversations.get(id)? else {
            return Ok(None);
        };
        if self
            .customers
            .erased_at(&conversation.customer_id)?
            .is_some()
        {
            return Ok(None);
        }
        let customer = self.customers.get(&conversation.customer_id)?;
        let task = self.task_of(&conversation);
        let waiting = task
            .as_ref()
            .is_some_and(|t| matches!(t.state, TaskState::Pending | TaskState::Reserved));
        let reach = match (&customer, reads_customers) {
            (Some(c), true) => c
                .identities
                .iter()
                .filter_map(|i| match i.kind {
                    IdentityKind::Phone => Some(Identity::Phone(i.value.clone())),
                    IdentityKind::Email => Some(Identity::Email(i.value.clone())),
                    IdentityKind::Handle => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let text = match message_id {
            Some(m) => self.conversations.message(m)?.map(|m| m.text),
            None => None,
        };
        Ok(Some(Subject {
            conversation_id: conversation.id.clone(),
            customer_id: conversation.customer_id.clone(),
            channel: conversation.channel.clone(),
            kind: conversation.channel_kind.to_wit(),
            task_id: task.as_ref().map(|t| t.id.clone()),
            waiting,
            waited_ms: task
                .as_ref()
                .filter(|_| waiting)
                .map_or(0, |t| now_ms().saturating_sub(t.waiting_since())),
            resolved: conversation.status == crate::conversations::ConversationStatus::Resolved,
            labels: conversation.labels.clone(),
            reach,
            language: customer.and_then(|c| c.attributes.get("language").cloned()),
            text,
        }))
    }

    /// What is waiting for the automations (timers first due first).
    pub fn automation_queue(&self) -> Result<Vec<AutomationEntry>, CoreError> {
        let mut pending = self.automations.queue.pending()?;
        pending.sort_by_key(|e| e.next_at);
        Ok(pending)
    }

    /// Makes queued item `id` (a timer) due now — to try a journey without
    /// waiting for it.
    pub async fn run_automation_now(&self, id: &str) -> Result<AutomationEntry, CoreError> {
        let mut entry = self
            .automations
            .queue
            .pending()?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| CoreError::NotFound(format!("no queued automation {id}")))?;
        entry.next_at = 0;
        let mut batch = Batch::new();
        self.automations.queue.update(&mut batch, &entry);
        let seq = self.store.write(batch)?;
        self.store.durable(seq).await?;
        self.automations.queue.wake();
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &'static str, data: serde_json::Value) -> Event {
        Event {
            kind,
            at: 7,
            agent_id: None,
            task_id: Some("tsk_1".into()),
            conversation_id: Some("con_1".into()),
            customer_id: Some("cus_1".into()),
            data,
        }
    }

    #[test]
    fn published_events_become_triggers() {
        let trigger = |kind, data| item_of(&event(kind, data)).map(|i| i.trigger);
        assert_eq!(
            trigger("task.created", json!({"state": "pending"})),
            Some(TriggerName::TaskQueued)
        );
        assert_eq!(trigger("task.created", json!({"state": "assigned"})), None);
        assert_eq!(
            trigger("task.canceled", json!({"abandoned": true})),
            Some(TriggerName::TaskAbandoned)
        );
        assert_eq!(
            trigger("task.completed", json!({"disposition": "callback_failed"})),
            Some(TriggerName::TaskAbandoned)
        );
        assert_eq!(
            trigger("task.completed", json!({"disposition": "resolved"})),
            Some(TriggerName::ConversationResolved)
        );
        let customer = item_of(&event(
            "message.created",
            json!({"id": "msg_1", "author": "customer", "direction": "inbound"}),
        ))
        .unwrap();
        assert_eq!(customer.trigger, TriggerName::MessageReceived);
        assert_eq!(customer.message_id.as_deref(), Some("msg_1"));
        assert_eq!(
            trigger(
                "message.created",
                json!({"id": "msg_2", "author": "agent", "direction": "outbound"})
            ),
            None
        );
        assert_eq!(trigger("agent.status", json!({})), None);
    }
}
