//! What an automation's answer makes the host do — always through the same
//! paths, and under the same rules, as people: its messages go through the
//! outbox with opt-outs, channel windows and templates checked; a callback
//! is a voice task in the queue like a caller's; labels and notes are
//! checked as agents' are.

use crate::clock::now_ms;
use crate::conversations::{Author, Callback, Conversation, ConversationStatus};
use crate::customers::{Identity, IdentityKind};
use crate::kind::Kind;
use crate::routing::{NewTask, TaskState};
use crate::runtime::PluginKind;
use crate::store::Batch;
use crate::wit::automating::{AutomationAction, SendMessage};

use super::automations::{AutomationItem, TriggerName};
use super::outreach::{AUTOMATION_NOTICE, StartConversation, TemplateInput};
use super::{Core, CoreError};

/// The longest an automation may wait for a timer (30 days).
const MAX_TIMER_MS: u64 = 30 * 24 * 3_600_000;
/// The longest timer tag kept.
const MAX_TAG: usize = 200;

impl Core {
    /// Performs one action `plugin` answered to `item`.
    pub(super) async fn perform(
        &self,
        plugin: &str,
        item: &AutomationItem,
        action: AutomationAction,
    ) -> Result<(), CoreError> {
        let about = || {
            item.conversation_id.clone().ok_or_else(|| {
                CoreError::Invalid("this action needs an event about a conversation".into())
            })
        };
        match action {
            AutomationAction::SetTimer(timer) => {
                if timer.tag.len() > MAX_TAG {
                    return Err(CoreError::Invalid(format!(
                        "timer tags are at most {MAX_TAG} bytes"
                    )));
                }
                let due = now_ms() + timer.after_ms.min(MAX_TIMER_MS);
                self.queue_automation(
                    AutomationItem {
                        trigger: TriggerName::Timer,
                        plugin: Some(plugin.to_string()),
                        conversation_id: item.conversation_id.clone(),
                        message_id: None,
                        tag: Some(timer.tag),
                        at: due,
                    },
                    due,
                );
                Ok(())
            }
            AutomationAction::AddLabel(label) => {
                let id = about()?;
                let mut labels = self.about(&id)?.labels;
                labels.push(label);
                self.set_labels(&id, labels).await.map(drop)
            }
            AutomationAction::AddNote(text) => {
                let id = about()?;
                self.add_note(&id, &format!("automation:{plugin}"), &text)
                    .await
                    .map(drop)
            }
            AutomationAction::RaisePriority(at_least) => {
                let conversation = self.about(&about()?)?;
                if let Some(task) = &conversation.task_id {
                    self.routing.raise_priority(task, at_least)?;
                }
                Ok(())
            }
            AutomationAction::Send(message) => {
                let conversation = self.about(&about()?)?;
                self.automation_send(&conversation, message).await
            }
            AutomationAction::HandToBot(bot) => {
                let conversation = self.about(&about()?)?;
                self.hand_to_bot(&conversation, &bot).await
            }
            AutomationAction::CallBack(channel) => {
                let conversation = self.about(&about()?)?;
                self.automation_call_back(plugin, &conversation, &channel)
                    .await
            }
        }
    }

    fn about(&self, id: &str) -> Result<Conversation, CoreError> {
        self.conversations
            .get(id)?
            .ok_or_else(|| CoreError::NotFound(format!("no conversation {id}")))
    }

    /// A message to the subject's customer: into `about` when on its
    /// channel, else into her open conversation on the other channel, else
    /// a conversation started there.
    async fn automation_send(
        &self,
        about: &Conversation,
        message: SendMessage,
    ) -> Result<(), CoreError> {
        let channel = message.channel.unwrap_or_else(|| about.channel.clone());
        let template = message.template.map(|name| TemplateInput {
            name,
            parameters: message.parameters,
        });
        let target = if channel == about.channel {
            Some(about.clone())
        } else {
            self.conversations
                .of_customer(&about.customer_id)?
                .into_iter()
                .find(|c| c.channel == channel && c.status == ConversationStatus::Open)
        };
        let Some(target) = target else {
            let start = StartConversation {
                customer_id: about.customer_id.clone(),
                channel,
                text: template.is_none().then_some(message.text),
                template,
            };
            return self.open_conversation(None, start).await.map(drop);
        };
        let info = self
            .runtime
            .channel_info(&target.channel)
            .ok_or_else(|| CoreError::NotFound(format!("no channel {}", target.channel)))?;
        if Kind::from_wit(info.kind) == Kind::Voice {
            return Err(CoreError::Unsupported(format!(
                "{} is a voice channel: it carries no messages",
                target.channel
            )));
        }
        let (text, used) = match &template {
            Some(t) => {
                let (text, used) =
                    self.template(&target.channel, info.rules.supports_templates, t)?;
                (text, Some(used))
            }
            None if message.text.trim().is_empty() => {
                return Err(CoreError::Invalid("an empty message".into()));
            }
            None => (message.text, None),
        };
        let now = now_ms();
        let (sent, conversation, seq) = {
            let _gate = self.gate();
            let conversation = self.about(&target.id)?;
            self.check_consent(&conversation.customer_id, &conversation.channel)?;
            if used.is_none() {
                self.check_reply_window(&conversation, now)?;
            }
            let mut batch = Batch::new();
            let mut sent = self.queue_outbound(
                &mut batch,
                &conversation,
                (Author::System, None, Some(AUTOMATION_NOTICE)),
                &text,
                Vec::new(),
                now,
            )?;
            if used.is_some() {
                sent.template = used;
                self.conversations.save_message(&mut batch, &sent);
            }
            let seq = self.store.write(batch)?;
            (sent, conversation, seq)
        };
        self.store.durable(seq).await?;
        self.outbox.wake();
        self.publish_message(&sent, &conversation);
        Ok(())
    }

    /// Hands `about` to bot plugin `bot` while no agent has it: its waiting
    /// task is withdrawn (not abandoned) and the bot answers the customer's
    /// latest message.
    async fn hand_to_bot(&self, about: &Conversation, bot: &str) -> Result<(), CoreError> {
        if !self
            .runtime
            .loaded_of_kind(PluginKind::Bot)
            .iter()
            .any(|b| b == bot)
        {
            return Err(CoreError::NotFound(format!("no bot {bot}")));
        }
        let seq = {
            let _gate = self.gate();
            let mut conversation = self.about(&about.id)?;
            if conversation.status != ConversationStatus::Open || conversation.bot.is_some() {
                return Err(CoreError::Conflict(format!(
                    "conversation {} is resolved or with a bot already",
                    conversation.id
                )));
            }
            let task = self.task_of(&conversation);
            let waiting = match &task {
                Some(t) if matches!(t.state, TaskState::Pending | TaskState::Reserved) => Some(t),
                Some(t) if matches!(t.state, TaskState::Assigned | TaskState::Wrapping) => {
                    return Err(CoreError::Conflict(format!(
                        "an agent has conversation {}",
                        conversation.id
                    )));
                }
                _ => None,
            };
            let last = self
                .conversations
                .messages(&conversation.id)?
                .into_iter()
                .rev()
                .find(|m| m.author == Author::Customer)
                .ok_or_else(|| {
                    CoreError::Invalid("no message of the customer for the bot to answer".into())
                })?;
            if let Some(task) = waiting {
                self.routing.withdraw(&task.id, Some(bot))?;
            }
            conversation.bot = Some(bot.to_string());
            let mut batch = Batch::new();
            batch.record(super::bots::bot_record(
                "bot.started",
                &conversation,
                crate::clock::now_ms(),
            ));
            self.bots
                .queue_turn(&mut batch, bot, &conversation.id, &last.id)?;
            self.conversations.save(&mut batch, &conversation);
            self.store.write(batch)?
        };
        self.store.durable(seq).await?;
        self.bots.wake();
        Ok(())
    }

    /// A callback task on voice channel `channel` to the customer of
    /// `about`: queued like a caller who pressed the callback key; the
    /// agent who accepts it is bridged to a call placed to her. One per
    /// conversation it came from.
    async fn automation_call_back(
        &self,
        plugin: &str,
        about: &Conversation,
        channel: &str,
    ) -> Result<(), CoreError> {
        let info = self
            .runtime
            .channel_info(channel)
            .ok_or_else(|| CoreError::NotFound(format!("no channel {channel}")))?;
        if Kind::from_wit(info.kind) != Kind::Voice {
            return Err(CoreError::Unsupported(format!(
                "{channel} is not a voice channel"
            )));
        }
        let customer = self
            .customers
            .get(&about.customer_id)?
            .ok_or_else(|| CoreError::NotFound(format!("no customer {}", about.customer_id)))?;
        let phone = customer
            .identities
            .iter()
            .find(|i| i.kind == IdentityKind::Phone)
            .cloned()
            .ok_or_else(|| {
                CoreError::Unsupported(format!("customer {} has no phone number", customer.id))
            })?;
        self.check_consent(&customer.id, channel)?;
        let thread = format!("callback:{}", about.id);
        let now = now_ms();
        let (task, note, conversation, seq) = {
            let _gate = self.gate();
            if self
                .conversations
                .open_for(&customer.id, channel, &thread)?
                .is_some()
            {
                return Ok(());
            }
            let mut batch = Batch::new();
            let mut conversation = self.conversations.create(
                &mut batch,
                &customer.id,
                channel,
                Kind::Voice,
                &thread,
                Some(Identity {
                    kind: IdentityKind::Phone,
                    value: phone.value.clone(),
                }),
                now,
            )?;
            conversation.callback = Some(Callback {
                number: phone.value.clone(),
                from: None,
                requested_at: now,
                attempts: 0,
                last_outcome: None,
            });
            let task = self.routing.new_task(
                &mut batch,
                NewTask {
                    channel: channel.to_string(),
                    kind: Kind::Voice,
                    conversation_id: conversation.id.clone(),
                    customer_id: customer.id.clone(),
                    preferred_agent: customer.last_agent.clone(),
                    skills: self.channel_skills(channel),
                    language: customer.attributes.get("language").cloned(),
                    priority: None,
                    reason: Some(format!("callback asked in {}", about.channel)),
                    summary: None,
                },
            )?;
            conversation.task_id = Some(task.id.clone());
            let note = self.conversations.system_note(
                &conversation,
                format!(
                    "A callback to {} (asked in conversation {} on {}, through {plugin})",
                    phone.value, about.id, about.channel
                ),
                now,
            )?;
            self.conversations
                .add_message(&mut batch, &conversation, &note);
            self.conversations.save(&mut batch, &conversation);
            let seq = self.store.write(batch)?;
            (task, note, conversation, seq)
        };
        self.store.durable(seq).await?;
        self.routing.enqueue(task);
        self.publish_message(&note, &conversation);
        Ok(())
    }
}
