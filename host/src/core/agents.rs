//! Agents and what they do: the admin creates them, they set their status,
//! accept, reject and complete tasks, and reply to customers. Every action
//! returns once its writes are durable.

use crate::clock::now_ms;
use crate::conversations::{
    Attachment, Author, Conversation, ConversationStatus, Direction, Message, MessageStatus,
};
use crate::kind::Kind;
use crate::routing::{Agent, AgentInput, AgentStatus, Task};
use crate::store::Batch;

use super::crm::Change as CrmChange;
use super::{Core, CoreError};

impl Core {
    /// Creates or updates an agent; a new agent's bearer token is returned
    /// once (only its digest is stored).
    pub async fn put_agent(
        &self,
        id: &str,
        input: AgentInput,
    ) -> Result<(Agent, Option<String>), CoreError> {
        let (agent, token, seq) = self.routing.put_agent(id, input)?;
        self.store.durable(seq).await?;
        Ok((self.routing.view(&agent), token))
    }

    /// Gives an agent a new bearer token (shown once); its earlier tokens
    /// are refused at once.
    pub async fn rotate_token(&self, id: &str) -> Result<(Agent, String), CoreError> {
        let (agent, token, seq) = self.routing.rotate_token(id)?;
        self.store.durable(seq).await?;
        Ok((self.routing.view(&agent), token))
    }

    /// Revokes an agent's tokens and signs it out, at once.
    pub async fn deactivate_agent(&self, id: &str) -> Result<Agent, CoreError> {
        let (agent, seq) = self.routing.deactivate(id)?;
        self.store.durable(seq).await?;
        Ok(self.routing.view(&agent))
    }

    /// An agent as the API shows it (default capacities filled in).
    pub fn agent(&self, id: &str) -> Option<Agent> {
        self.routing.agent(id).map(|a| self.routing.view(&a))
    }

    /// Every agent, as the API shows them.
    pub fn agents(&self) -> Vec<Agent> {
        let routing = &self.routing;
        routing.agents().iter().map(|a| routing.view(a)).collect()
    }

    /// The agent or supervisor holding this bearer token.
    pub fn agent_by_token(&self, token: &str) -> Option<Agent> {
        self.routing.agent_by_token(token)
    }

    /// Sets an agent's status (leaving `available` gives back its
    /// reservations). `by` is who asks (the agent, a supervisor or
    /// `admin`); offers a supervisor takes back name them in the task.
    pub async fn set_agent_status(
        &self,
        id: &str,
        status: AgentStatus,
        by: &str,
    ) -> Result<Agent, CoreError> {
        let (agent, seq) = self.routing.set_status(id, status, by)?;
        self.store.durable(seq).await?;
        Ok(self.routing.view(&agent))
    }

    /// The agent's reserved, assigned and wrapping tasks.
    pub fn agent_tasks(&self, id: &str) -> Result<Vec<Task>, CoreError> {
        Ok(self.routing.agent_tasks(id)?)
    }

    /// A task by id.
    pub fn task(&self, id: &str) -> Option<Task> {
        self.routing.task(id)
    }

    /// Whether the agent holds a task on this conversation (what an agent
    /// may see and answer).
    pub fn agent_has_conversation(&self, agent: &str, conversation: &str) -> bool {
        self.routing.agent_has_conversation(agent, conversation)
    }

    /// Whether the agent held (or passed on) a task of this conversation:
    /// her past work, which she may read.
    pub fn agent_worked_on(&self, agent: &str, conversation: &str) -> bool {
        self.routing.agent_worked_on(agent, conversation)
    }

    /// Whether the agent holds a task of this customer (whose profile and
    /// timeline the agent may see).
    pub fn agent_has_customer(&self, agent: &str, customer: &str) -> bool {
        self.routing.agent_has_customer(agent, customer)
    }

    /// 422 when the conversation's channel allows free text only within a
    /// window after the customer's last message (WhatsApp: 24 hours) and
    /// that window has passed — the provider would refuse it.
    pub(super) fn check_reply_window(
        &self,
        conversation: &crate::conversations::Conversation,
        now: u64,
    ) -> Result<(), CoreError> {
        let Some(window) = self
            .runtime
            .channel_info(&conversation.channel)
            .and_then(|info| info.rules.free_text_window_ms)
        else {
            return Ok(());
        };
        let last = self
            .conversations
            .messages(&conversation.id)?
            .iter()
            .filter(|m| m.direction == crate::conversations::Direction::Inbound)
            .map(|m| m.at)
            .max();
        within_window(&conversation.channel, window, last, now)
    }

    /// The assigned agent replies: the message goes into the outbox.
    pub async fn reply(
        &self,
        conversation_id: &str,
        agent: Option<&str>,
        text: &str,
        uploads: &[String],
    ) -> Result<Message, CoreError> {
        if text.trim().is_empty() && uploads.is_empty() {
            return Err(CoreError::Invalid(
                "`text` must not be empty without attachments".into(),
            ));
        }
        let now = now_ms();
        let (message, conversation, seq) = {
            let _gate = self.gate();
            let conversation = self
                .conversations
                .get(conversation_id)?
                .ok_or_else(|| CoreError::NotFound(format!("no conversation {conversation_id}")))?;
            if conversation.status != ConversationStatus::Open {
                return Err(CoreError::Conflict(format!(
                    "conversation {conversation_id} is resolved"
                )));
            }
            if conversation.reply_to.is_none() {
                return Err(CoreError::Conflict(format!(
                    "conversation {conversation_id} has no address to reply to"
                )));
            }
            self.check_consent(&conversation.customer_id, &conversation.channel)?;
            self.check_reply_window(&conversation, now)?;
            let author = if agent.is_some() {
                Author::Agent
            } else {
                Author::System
            };
            let attachments = self.uploaded(&conversation, uploads, now)?;
            let mut batch = Batch::new();
            let message = self.queue_outbound(
                &mut batch,
                &conversation,
                (author, agent, None),
                text,
                attachments,
                now,
            )?;
            let seq = self.store.write(batch)?;
            (message, conversation, seq)
        };
        self.store.durable(seq).await?;
        self.outbox.wake();
        self.crm.wake();
        self.publish_message(&message, &conversation);
        Ok(message)
    }

    /// An outbound message of `conversation`, stored and queued for its
    /// channel in `batch` (under the gate).
    pub(super) fn queue_outbound(
        &self,
        batch: &mut Batch,
        conversation: &Conversation,
        (author, agent, notice): (Author, Option<&str>, Option<&str>),
        text: &str,
        attachments: Vec<Attachment>,
        now: u64,
    ) -> Result<Message, CoreError> {
        let mut message = Message {
            id: self.conversations.new_message_id()?,
            at: now,
            channel: conversation.channel.clone(),
            conversation_id: conversation.id.clone(),
            direction: Direction::Outbound,
            author,
            text: text.to_string(),
            attachments,
            status: Some(MessageStatus::Queued),
            provider_message_id: None,
            sent_at: None,
            agent_id: agent.map(str::to_string),
            agent_name: agent.and_then(|a| self.routing.agent(a)).map(|a| a.name),
            error: None,
            redacted: Vec::new(),
            erased_at: None,
            template: None,
            metadata: notice
                .map(|n| (super::consent::NOTICE_KEY.to_string(), n.to_string()))
                .into_iter()
                .collect(),
        };
        // What the customer receives is the redacted copy too.
        message.redact(&self.redactor, conversation.channel_kind);
        self.conversations
            .add_message(batch, conversation, &message);
        self.outbox.enqueue(batch, &message)?;
        // The caller writes the batch; the worker also looks every few
        // seconds, and callers wake it after writing.
        self.crm.record(
            batch,
            &conversation.customer_id,
            CrmChange::InteractionLogged {
                message_id: message.id.clone(),
            },
        )?;
        Ok(message)
    }

    /// The reserved agent accepts; the customer's last agent becomes this
    /// one.
    pub async fn accept(&self, task_id: &str, agent: &str) -> Result<Task, CoreError> {
        let (task, _) = self.routing.accept(task_id, agent)?;
        let mut connect = false;
        {
            let _gate = self.gate();
            let mut batch = Batch::new();
            self.customers
                .set_last_agent(&mut batch, &task.customer_id, agent, now_ms())?;
            // A caller is waiting: bridge the call to the agent (or call
            // her back, when she asked for that).
            if task.channel_kind == Kind::Voice {
                connect = self.bridge_accepted(&mut batch, &task, agent)?;
            }
            self.store.write(batch)?;
        }
        self.store.sync().await?;
        if connect {
            self.outbox.wake();
        }
        Ok(task)
    }

    /// The reserved agent declines.
    pub async fn reject(&self, task_id: &str, agent: &str) -> Result<Task, CoreError> {
        let (task, seq) = self.routing.reject(task_id, agent)?;
        self.store.durable(seq).await?;
        Ok(task)
    }

    /// The agent is done: the task wraps up or completes, and its
    /// conversation is resolved (a later message starts a new one).
    pub async fn complete(
        &self,
        task_id: &str,
        agent: &str,
        disposition: Option<String>,
    ) -> Result<Task, CoreError> {
        let disposition = self.check_disposition(disposition)?;
        let (task, _) = self.routing.complete(task_id, agent, disposition)?;
        self.resolve_conversation_of(&task)?;
        self.store.sync().await?;
        Ok(task)
    }

    /// Resolves a completed (or wrapping) task's conversation, with its
    /// disposition, and tells CRM plugins; the caller syncs the store.
    pub(super) fn resolve_conversation_of(&self, task: &Task) -> Result<(), CoreError> {
        let _gate = self.gate();
        if let Some(mut conversation) = self.conversations.get(&task.conversation_id)? {
            let mut batch = Batch::new();
            let open = conversation.status == ConversationStatus::Open;
            if task.disposition.is_some() {
                conversation.disposition = task.disposition.clone();
                self.conversations.save(&mut batch, &conversation);
            }
            let now = now_ms();
            self.conversations
                .resolve(&mut batch, &mut conversation, now);
            if open {
                self.send_survey(&mut batch, &mut conversation, task, now)?;
            }
            let tell_crm = open
                && self.crm.record(
                    &mut batch,
                    &conversation.customer_id,
                    CrmChange::ConversationClosed {
                        conversation_id: conversation.id.clone(),
                        disposition: task.disposition.clone(),
                    },
                )?;
            self.store.write(batch)?;
            if tell_crm {
                self.crm.wake();
            }
            if conversation.survey.is_some() {
                self.outbox.wake();
            }
            // A channel that tells its customer the conversation ended (the
            // web chat's held reads) learns it now.
            self.events
                .touched(&conversation.channel, &conversation.thread_key);
        }
        Ok(())
    }
}

/// 422 unless free text may go out on `channel` at `now`: within `window`
/// of the customer's `last` message there.
pub(super) fn within_window(
    channel: &str,
    window: u64,
    last: Option<u64>,
    now: u64,
) -> Result<(), CoreError> {
    match last {
        Some(at) if now.saturating_sub(at) <= window => Ok(()),
        _ => Err(CoreError::Unsupported(format!(
            "the {channel} channel allows free text only within {} of the customer's last message{}; send an approved template instead",
            span_text(window),
            match last {
                Some(at) => format!(" ({} minutes ago)", now.saturating_sub(at) / 60_000),
                None => " (she has not written there)".to_string(),
            }
        ))),
    }
}

/// A window as people say it: `24 hours`, `10 minutes`, `5 ms`.
fn span_text(ms: u64) -> String {
    if ms >= 3_600_000 && ms.is_multiple_of(3_600_000) {
        format!("{} hours", ms / 3_600_000)
    } else if ms >= 60_000 && ms.is_multiple_of(60_000) {
        format!("{} minutes", ms / 60_000)
    } else {
        format!("{ms} ms")
    }
}
