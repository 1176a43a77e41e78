//! The bot stage: a channel configured with a bot (`[plugins.<channel>] bot =
//! "<bot plugin>"`) gives it every new conversation. Each inbound message
//! of a conversation in bot mode becomes a durable *turn* (written with the
//! message, so an acknowledged message is never left unanswered by a
//! restart); one worker takes turns in order and acts on the bot's answer:
//! `reply` goes out through the channel's outbox, `handoff` creates a task
//! (reason, summary, skills, priority) and takes the bot out of the
//! conversation for good, `resolve` closes it. A bot that fails, times out
//! or is missing hands off at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::config::Config;
use crate::conversations::{Author, Conversation, ConversationStatus, Message};
use crate::routing::{NewTask, Skill};
use crate::store::{Backoff, Batch, DurableQueue, Entry, Store, StoreError, Verdict, keys};
use crate::wit::botting::{BotAction, BotContext};
use crate::wit::types::InboundMessage;

use super::crm::Change as CrmChange;
use super::{Core, CoreError};

/// How many recent messages of the customer's other conversations a bot
/// sees.
const HISTORY: usize = 20;

/// One inbound message waiting for its conversation's bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnItem {
    /// The bot plugin.
    pub bot: String,
    /// The conversation.
    pub conversation_id: String,
    /// The message to answer.
    pub message_id: String,
}

/// A turn in the queue.
pub type Turn = Entry<TurnItem>;

/// The bot stage: which channel gives its conversations to which bot, and
/// the turns waiting for them.
pub(super) struct Bots {
    pub(super) queue: DurableQueue<TurnItem>,
    /// Channel plugin → bot plugin.
    by_channel: BTreeMap<String, String>,
}

impl Bots {
    /// The stage as `config` sets it up (`[plugins.<channel>] bot`).
    pub fn new(store: Store, config: &Config) -> Bots {
        // A turn is answered or handed off, never dead-lettered: a failing
        // bot hands off at once, and a store error leaves the turn queued.
        let backoff = Backoff {
            max_attempts: u32::MAX,
            base_ms: 1_000,
            max_ms: 60_000,
        };
        Bots {
            queue: DurableQueue::new(store, keys::BOT_TURNS, backoff),
            by_channel: config
                .plugins
                .iter()
                .filter_map(|(channel, s)| Some((channel.clone(), s.bot.clone()?)))
                .collect(),
        }
    }

    /// The bot that takes `channel`'s new conversations.
    pub fn bot_of(&self, channel: &str) -> Option<String> {
        self.by_channel.get(channel).cloned()
    }

    /// Queues a turn in `batch` (written with the message it answers).
    pub fn queue_turn(
        &self,
        batch: &mut Batch,
        bot: &str,
        conversation_id: &str,
        message_id: &str,
    ) -> Result<Turn, StoreError> {
        self.queue.push(
            batch,
            TurnItem {
                bot: bot.to_string(),
                conversation_id: conversation_id.to_string(),
                message_id: message_id.to_string(),
            },
        )
    }

    /// Wakes the worker.
    pub fn wake(&self) {
        self.queue.wake();
    }
}

/// Runs the bot worker until the host shuts down: one turn at a time, in
/// order per conversation.
pub(super) fn start(core: Arc<Core>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let next = take_due(&core).await;
            let closed = core.events.closed();
            if !core.bots.queue.wait("bot turns", next, closed).await {
                return;
            }
        }
    })
}

/// Takes every waiting turn once; a turn that fails on the store is tried
/// again soon, and its conversation's later turns wait behind it.
async fn take_due(core: &Core) -> Result<Option<u64>, StoreError> {
    let mut round = core
        .bots
        .queue
        .round(|turn: &TurnItem| Some(turn.conversation_id.clone()))?;
    while let Some(turn) = round.next_due() {
        if core.events.is_closed() {
            break;
        }
        let verdict = match take_turn(core, &turn).await {
            Ok(()) => Verdict::Done,
            Err(e) => {
                tracing::error!(turn = %turn.id, conversation = %turn.item.conversation_id, error = %e, "bot turn failed");
                Verdict::RetryAt(now_ms() + 1_000)
            }
        };
        round.settled(verdict);
    }
    Ok(round.next_at())
}

/// Answers one turn: asks the bot, then acts on its answer.
async fn take_turn(core: &Core, turn: &Turn) -> Result<(), CoreError> {
    let item = &turn.item;
    let conversation = core.conversations.get(&item.conversation_id)?;
    let message = core.conversations.message(&item.message_id)?;
    let (Some(conversation), Some(message)) = (conversation, message) else {
        return drop_turn(core, turn);
    };
    // Handed off or closed since the turn was queued: the bot is out.
    if conversation.bot.as_deref() != Some(item.bot.as_str())
        || conversation.status != ConversationStatus::Open
    {
        return drop_turn(core, turn);
    }
    let span = tracing::info_span!("bot.turn", bot = %item.bot, conversation = %conversation.id);
    let _enter = span.enter();
    let context = context(core, &conversation, &message)?;
    let inbound = InboundMessage {
        provider_message_id: message.provider_message_id.clone().unwrap_or_default(),
        thread_key: conversation.thread_key.clone(),
        identities: Vec::new(),
        display_name: None,
        text: message.text.clone(),
        attachments: message.attachments.iter().map(|a| a.to_wit()).collect(),
        sent_at: message.sent_at,
        metadata: message.metadata.clone().into_iter().collect(),
    };
    drop(_enter);
    let answer = core
        .runtime
        .bot_message(&item.bot, &context, &inbound)
        .await;
    match answer {
        Ok(BotAction::Reply(text)) if !text.trim().is_empty() => reply(core, turn, &text).await,
        Ok(BotAction::Reply(_)) => {
            let last = message.text.clone();
            handoff(
                core,
                turn,
                "bot failed: it answered with an empty reply",
                &last,
                Vec::new(),
                0,
            )
            .await
        }
        Ok(BotAction::Handoff(h)) => {
            let skills = h
                .skills
                .iter()
                .map(|s| Skill {
                    name: s.name.clone(),
                    min_level: s.min_level.clamp(1, 5),
                })
                .collect();
            handoff(core, turn, &h.reason, &h.summary, skills, h.priority).await
        }
        Ok(BotAction::Resolve) => resolve(core, turn).await,
        Err(e) => {
            tracing::warn!(bot = %item.bot, error = %e, "bot failed; handing off");
            let summary = format!("The customer wrote: \"{}\"", message.text);
            handoff(
                core,
                turn,
                &format!("bot failed: {e}"),
                &summary,
                Vec::new(),
                0,
            )
            .await
        }
    }
}

/// What the bot knows: the profile, the customer's recent messages on
/// other conversations, and this conversation before the message.
fn context(
    core: &Core,
    conversation: &Conversation,
    message: &Message,
) -> Result<BotContext, CoreError> {
    let customer = core
        .customers
        .get(&conversation.customer_id)?
        .ok_or_else(|| CoreError::NotFound(format!("no customer {}", conversation.customer_id)))?;
    let mut history = core.conversations.timeline(&customer.id, 200)?;
    history.retain(|m| m.conversation_id != conversation.id);
    let skip = history.len().saturating_sub(HISTORY);
    let transcript: Vec<_> = core
        .conversations
        .messages(&conversation.id)?
        .iter()
        .filter(|m| m.id != message.id && m.at <= message.at)
        .map(Message::to_wit)
        .collect();
    Ok(BotContext {
        conversation_id: conversation.id.clone(),
        channel: conversation.channel.clone(),
        channel_kind: conversation.channel_kind.to_wit(),
        language: customer.attributes.get("language").cloned(),
        customer: customer.to_wit(),
        history: history[skip..].iter().map(Message::to_wit).collect(),
        transcript,
    })
}

fn drop_turn(core: &Core, turn: &Turn) -> Result<(), CoreError> {
    Ok(core.bots.queue.discard(turn)?)
}

/// The bot answers: through the channel's outbox, like an agent's reply.
async fn reply(core: &Core, turn: &Turn, text: &str) -> Result<(), CoreError> {
    let (message, conversation, seq) = {
        let _gate = core.gate();
        let Some(conversation) = core.conversations.get(&turn.item.conversation_id)? else {
            return drop_turn(core, turn);
        };
        let mut batch = Batch::new();
        core.bots.queue.remove(&mut batch, turn);
        let message = core.queue_outbound(
            &mut batch,
            &conversation,
            (Author::Bot, None, None),
            text,
            Vec::new(),
            now_ms(),
        )?;
        (message, conversation, core.store.write(batch)?)
    };
    core.store.durable(seq).await?;
    core.outbox.wake();
    core.crm.wake();
    core.publish_message(&message, &conversation);
    Ok(())
}

/// The bot steps aside: a task for a human carries its reason, summary,
/// skills and priority, and the bot never sees the conversation again.
async fn handoff(
    core: &Core,
    turn: &Turn,
    reason: &str,
    summary: &str,
    skills: Vec<Skill>,
    priority: u32,
) -> Result<(), CoreError> {
    let now = now_ms();
    let (task, note, conversation, seq) = {
        let _gate = core.gate();
        let Some(mut conversation) = core.conversations.get(&turn.item.conversation_id)? else {
            return drop_turn(core, turn);
        };
        let mut batch = Batch::new();
        core.bots.queue.remove(&mut batch, turn);
        let customer = core.customers.get(&conversation.customer_id)?;
        let task = core.routing.new_task(
            &mut batch,
            NewTask {
                channel: conversation.channel.clone(),
                kind: conversation.channel_kind,
                conversation_id: conversation.id.clone(),
                customer_id: conversation.customer_id.clone(),
                preferred_agent: customer.as_ref().and_then(|c| c.last_agent.clone()),
                skills,
                language: customer.and_then(|c| c.attributes.get("language").cloned()),
                priority: Some(priority),
                reason: Some(reason.to_string()),
                summary: Some(summary.to_string()).filter(|s| !s.trim().is_empty()),
            },
        )?;
        let mut note = core.conversations.system_note(
            &conversation,
            format!("Handed off to an agent: {reason}"),
            now,
        )?;
        note.metadata = [("summary".to_string(), summary.to_string())].into();
        core.conversations
            .add_message(&mut batch, &conversation, &note);
        batch.record(bot_record("bot.handoff", &conversation, now));
        conversation.bot = None;
        conversation.task_id = Some(task.id.clone());
        conversation.updated_at = now;
        core.conversations.save(&mut batch, &conversation);
        (task, note, conversation, core.store.write(batch)?)
    };
    core.store.durable(seq).await?;
    tracing::info!(task = %task.id, %reason, "bot handed off");
    // Queued before anyone hears of the handoff, so whoever sees the note
    // finds the task.
    core.routing.enqueue(task);
    core.publish_message(&note, &conversation);
    Ok(())
}

/// The bot closes the conversation (a later message starts a new one).
async fn resolve(core: &Core, turn: &Turn) -> Result<(), CoreError> {
    let mut thread = None;
    let seq = {
        let _gate = core.gate();
        let mut batch = Batch::new();
        core.bots.queue.remove(&mut batch, turn);
        if let Some(mut conversation) = core.conversations.get(&turn.item.conversation_id)? {
            batch.record(bot_record("bot.resolved", &conversation, now_ms()));
            conversation.bot = None;
            // Saves the conversation too.
            core.conversations
                .resolve(&mut batch, &mut conversation, now_ms());
            thread = Some((
                conversation.channel.clone(),
                conversation.thread_key.clone(),
            ));
            if core.crm.record(
                &mut batch,
                &conversation.customer_id,
                CrmChange::ConversationClosed {
                    conversation_id: conversation.id.clone(),
                    disposition: None,
                },
            )? {
                core.crm.wake();
            }
        }
        core.store.write(batch)?
    };
    core.store.durable(seq).await?;
    if let Some((channel, thread)) = thread {
        core.events.touched(&channel, &thread);
    }
    Ok(())
}

/// The event history's record of a bot taking a conversation
/// (`bot.started`), handing it to an agent (`bot.handoff`) or closing it
/// itself (`bot.resolved`): what bot containment is counted from.
pub(super) fn bot_record(
    kind: &str,
    conversation: &crate::conversations::Conversation,
    at: u64,
) -> crate::store::HistoryEvent {
    let mut event = crate::conversations::conversation_event(kind, conversation, at);
    event.data = serde_json::json!({
        "bot": conversation.bot,
        "channel_kind": conversation.channel_kind,
    });
    event
}
