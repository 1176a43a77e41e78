//! Conversations an agent starts (`POST /api/conversations`): to a known
//! customer, on a channel whose rules allow it, with free text while the
//! channel's window since her last message is open or an approved template
//! otherwise; opt-outs are honoured. The conversation opens with an
//! assigned task for the agent, and takes the thread of the customer's
//! answer when she writes back.

use serde::Deserialize;

use crate::clock::now_ms;
use crate::conversations::{Author, Conversation, Direction, Message, TemplateUse};
use crate::customers::{Customer, IdentityKind};
use crate::kind::Kind;
use crate::routing::{NewTask, Task};
use crate::store::Batch;

use super::{Core, CoreError};

/// The thread of a conversation an agent started, until the customer
/// answers on the channel's own thread.
pub(super) const STARTED_THREAD: &str = "";
/// The notice value (`notice` metadata) of a message an automation sent.
pub(super) const AUTOMATION_NOTICE: &str = "automation";

/// A template to send, with its parameters.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    /// Its name in `[templates.<channel>]`.
    pub name: String,
    /// Its parameters, in order.
    #[serde(default)]
    pub parameters: Vec<String>,
}

/// `POST /api/conversations`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartConversation {
    /// The customer.
    pub customer_id: String,
    /// The channel plugin to write on.
    pub channel: String,
    /// Free text (within the channel's window).
    #[serde(default)]
    pub text: Option<String>,
    /// An approved template (the way to start outside the window).
    #[serde(default)]
    pub template: Option<TemplateInput>,
}

/// What starting a conversation made.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Started {
    /// The conversation.
    pub conversation: Conversation,
    /// The task, assigned to the agent.
    pub task: Task,
    /// The first message, queued for the channel.
    pub message: Message,
}

/// A channel as agents see it when they start a conversation
/// (`GET /api/channels`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    /// The channel plugin's name.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// How people call it.
    pub display_name: String,
    /// Whether an agent may write first there.
    pub can_start: bool,
    /// Free text only within this many ms of the customer's last message.
    pub free_text_window_ms: Option<u64>,
    /// The approved templates an agent may send there.
    pub templates: Vec<TemplateView>,
}

/// An approved template, as the desktop offers it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TemplateView {
    /// Its name.
    pub name: String,
    /// Its language code.
    pub language: String,
    /// Its body, with `{{1}}`… for the parameters.
    pub text: String,
    /// How many parameters it takes.
    pub parameters: usize,
}

/// Where the customer is reached on a channel of `kind`: her phone for
/// messaging, her email for email.
fn address(customer: &Customer, kind: Kind) -> Option<&crate::customers::Identity> {
    let wanted = match kind {
        Kind::Messaging => IdentityKind::Phone,
        Kind::Email => IdentityKind::Email,
        Kind::Chat | Kind::Voice => return None,
    };
    customer.identities.iter().find(|i| i.kind == wanted)
}

impl Core {
    /// The channels serving now, with their rules and templates.
    pub fn channels(&self) -> Vec<ChannelView> {
        self.runtime
            .loaded_of_kind(crate::runtime::PluginKind::Channel)
            .into_iter()
            .filter_map(|name| {
                let info = self.runtime.channel_info(&name)?;
                let templates = if info.rules.supports_templates {
                    self.templates
                        .get(&name)
                        .into_iter()
                        .flatten()
                        .map(|(t, c)| TemplateView {
                            name: t.clone(),
                            language: c.language.clone(),
                            text: c.text.clone(),
                            parameters: c.parameters(),
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                Some(ChannelView {
                    kind: Kind::from_wit(info.kind),
                    display_name: info.display_name,
                    can_start: info.rules.can_start,
                    free_text_window_ms: info.rules.free_text_window_ms,
                    templates,
                    name,
                })
            })
            .collect()
    }

    /// `agent` starts a conversation (see the module doc).
    pub async fn start_conversation(
        &self,
        agent: &str,
        input: StartConversation,
    ) -> Result<Started, CoreError> {
        let (conversation, task, message) = self.open_conversation(Some(agent), input).await?;
        Ok(Started {
            conversation,
            task: task.ok_or_else(|| CoreError::Invalid("no task".into()))?,
            message,
        })
    }

    /// Starts a conversation for `agent` (with a task assigned to her), or
    /// for an automation (`None`: no task; the customer's answer makes
    /// one, as any message does). The same rules apply to both.
    pub(super) async fn open_conversation(
        &self,
        agent: Option<&str>,
        input: StartConversation,
    ) -> Result<(Conversation, Option<Task>, Message), CoreError> {
        let now = now_ms();
        let info = self
            .runtime
            .channel_info(&input.channel)
            .ok_or_else(|| CoreError::NotFound(format!("no channel {}", input.channel)))?;
        let kind = Kind::from_wit(info.kind);
        if !info.rules.can_start {
            return Err(CoreError::Unsupported(format!(
                "conversations cannot be started on the {} channel; the customer must write first",
                input.channel
            )));
        }
        if self.customers.erased_at(&input.customer_id)?.is_some() {
            return Err(CoreError::Gone(format!(
                "customer {} was erased",
                input.customer_id
            )));
        }
        let customer = self
            .customers
            .get(&input.customer_id)?
            .ok_or_else(|| CoreError::NotFound(format!("no customer {}", input.customer_id)))?;
        let to = address(&customer, kind).cloned().ok_or_else(|| {
            CoreError::Unsupported(format!(
                "customer {} has no {} to write to on {}",
                customer.id,
                if kind == Kind::Email {
                    "email"
                } else {
                    "phone number"
                },
                input.channel
            ))
        })?;
        let (text, template) = match (&input.text, &input.template) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(CoreError::Invalid(
                    "give either `text` or `template`".into(),
                ));
            }
            (Some(text), None) if text.trim().is_empty() => {
                return Err(CoreError::Invalid("`text` must not be empty".into()));
            }
            (Some(text), None) => {
                self.check_start_window(
                    &customer,
                    &input.channel,
                    info.rules.free_text_window_ms,
                    now,
                )?;
                (text.clone(), None)
            }
            (None, Some(t)) => {
                let (text, used) =
                    self.template(&input.channel, info.rules.supports_templates, t)?;
                (text, Some(used))
            }
        };
        self.check_consent(&customer.id, &input.channel)?;

        let (started, seq) = {
            let _gate = self.gate();
            if let Some(open) = self
                .conversations
                .of_customer(&customer.id)?
                .into_iter()
                .find(|c| {
                    c.channel == input.channel
                        && c.status == crate::conversations::ConversationStatus::Open
                })
            {
                return Err(CoreError::Conflict(format!(
                    "customer {} has an open conversation {} on {}: write there",
                    customer.id, open.id, input.channel
                )));
            }
            let mut batch = Batch::new();
            let mut conversation = self.conversations.create(
                &mut batch,
                &customer.id,
                &input.channel,
                kind,
                STARTED_THREAD,
                Some(to),
                now,
            )?;
            let task = match agent {
                Some(agent) => Some(self.routing.new_assigned_task(
                    &mut batch,
                    NewTask {
                        channel: input.channel.clone(),
                        kind,
                        conversation_id: conversation.id.clone(),
                        customer_id: customer.id.clone(),
                        preferred_agent: Some(agent.to_string()),
                        skills: Vec::new(),
                        language: customer.attributes.get("language").cloned(),
                        priority: None,
                        reason: None,
                        summary: None,
                    },
                    agent,
                )?),
                None => None,
            };
            conversation.task_id = task.as_ref().map(|t| t.id.clone());
            self.conversations.save(&mut batch, &conversation);
            let author = match agent {
                Some(agent) => (Author::Agent, Some(agent), None),
                None => (Author::System, None, Some(AUTOMATION_NOTICE)),
            };
            let mut message =
                self.queue_outbound(&mut batch, &conversation, author, &text, Vec::new(), now)?;
            if template.is_some() {
                message.template = template;
                self.conversations.save_message(&mut batch, &message);
            }
            let seq = self.store.write(batch)?;
            ((conversation, task, message), seq)
        };
        self.store.durable(seq).await?;
        if let Some(task) = &started.1 {
            self.routing.adopt(task.clone());
        }
        self.outbox.wake();
        self.crm.wake();
        self.publish_message(&started.2, &started.0);
        Ok(started)
    }

    /// Approved template `t` of `channel` with its parameters: the text the
    /// transcript shows and what the channel sends.
    pub(super) fn template(
        &self,
        channel: &str,
        supports_templates: bool,
        t: &TemplateInput,
    ) -> Result<(String, TemplateUse), CoreError> {
        if !supports_templates {
            return Err(CoreError::Unsupported(format!(
                "the {channel} channel sends no templates"
            )));
        }
        let known = self
            .templates
            .get(channel)
            .and_then(|ts| ts.get(&t.name))
            .ok_or_else(|| {
                CoreError::Unsupported(format!(
                    "no template `{}` for {channel} in [templates.{channel}]",
                    t.name
                ))
            })?;
        if t.parameters.len() != known.parameters() {
            return Err(CoreError::Invalid(format!(
                "template `{}` takes {} parameters, not {}",
                t.name,
                known.parameters(),
                t.parameters.len()
            )));
        }
        let used = TemplateUse {
            name: t.name.clone(),
            language: known.language.clone(),
            parameters: t.parameters.clone(),
        };
        Ok((known.render(&t.parameters), used))
    }

    /// 422 unless free text may go to `customer` on `channel` now: within
    /// `window` of her last message there (any conversation).
    fn check_start_window(
        &self,
        customer: &Customer,
        channel: &str,
        window: Option<u64>,
        now: u64,
    ) -> Result<(), CoreError> {
        let Some(window) = window else {
            return Ok(());
        };
        let mut last = None;
        for c in self.conversations.of_customer(&customer.id)? {
            if c.channel != channel {
                continue;
            }
            for m in self.conversations.messages(&c.id)? {
                if m.direction == Direction::Inbound {
                    last = last.max(Some(m.at));
                }
            }
        }
        super::agents::within_window(channel, window, last, now)
    }
}
