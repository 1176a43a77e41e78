//! Satisfaction surveys: when an agent's conversation is resolved on a
//! channel with a `[surveys.<channel>]`, the customer is asked; a reply on
//! the same thread before the survey expires that is a score (see
//! `conversations::survey`) is her answer — stored on the surveyed
//! conversation, attributed to its agent and channel, in the history and
//! told to CRM plugins — and she is thanked. Any other reply is a normal
//! message (and the survey is dropped); an expired survey records nothing.

use crate::conversations::{Author, Conversation, Message, Survey, conversation_event};
use crate::routing::Task;
use crate::store::{Batch, HistoryEvent, keys};
use crate::wit::types::InboundMessage;

use super::{Core, CoreError, CrmChange};

/// The notice marking a survey's question (and its thanks) among outbound
/// messages.
pub(super) const SURVEY_NOTICE: &str = "survey";

/// What channels are told a survey question is, in the outbound metadata:
/// its kind (`csat`, `nps`, `ces`), so a channel with its own interface
/// (the web chat widget) can show a rating.
pub(super) const SURVEY_META: &str = "switchboard-survey";

/// A survey answer, stored.
pub(super) struct Answered {
    pub conversation: Conversation,
    pub message: Message,
    pub tell_crm: bool,
}

impl Core {
    /// Asks the customer of a conversation an agent just resolved, if its
    /// channel has a survey; in `batch`.
    pub(super) fn send_survey(
        &self,
        batch: &mut Batch,
        conversation: &mut Conversation,
        task: &Task,
        now: u64,
    ) -> Result<(), CoreError> {
        let Some(config) = self.surveys.get(&conversation.channel) else {
            return Ok(());
        };
        if task.accepted_at.is_none() || conversation.survey.is_some() {
            return Ok(());
        }
        let survey = Survey {
            kind: config.kind,
            sent_at: now,
            expires_at: now.saturating_add(config.expire_after_ms),
            agent_id: task.agent_id.clone(),
            score: None,
            answered_at: None,
        };
        let question = config
            .question
            .clone()
            .unwrap_or_else(|| config.kind.default_question().to_string());
        self.queue_outbound(
            batch,
            conversation,
            (Author::System, None, Some(SURVEY_NOTICE)),
            &question,
            Vec::new(),
            now,
        )?;
        batch.record(survey_record("survey.sent", conversation, &survey, now));
        batch.put(
            keys::open_survey(
                &conversation.customer_id,
                &conversation.channel,
                &conversation.thread_key,
            ),
            conversation.id.as_str(),
        );
        conversation.survey = Some(survey);
        self.conversations.save(batch, conversation);
        Ok(())
    }

    /// Her reply `m` on a thread with a survey waiting, if it is an
    /// answer: stored in `batch` on the surveyed conversation, with the
    /// thanks queued. `None`: a normal message (the survey, if any, is
    /// over).
    pub(super) fn answer_survey(
        &self,
        batch: &mut Batch,
        customer: &str,
        (channel, m): (&str, &InboundMessage),
        author: Author,
        now: u64,
    ) -> Result<Option<Answered>, CoreError> {
        let key = keys::open_survey(customer, channel, &m.thread_key);
        let Some(id) = self.store.get_string(&key)? else {
            return Ok(None);
        };
        // Answered, expired or passed over: asked once only.
        batch.delete(key);
        let Some(mut conversation) = self.conversations.get(&id)? else {
            return Ok(None);
        };
        let Some(mut survey) = conversation.survey.clone() else {
            return Ok(None);
        };
        let score = survey.kind.score(&m.text);
        let (Some(score), None, true) = (score, survey.score, now <= survey.expires_at) else {
            return Ok(None);
        };
        survey.score = Some(score);
        survey.answered_at = Some(now);
        let mut message = super::inbound::inbound_message(
            self.conversations.new_message_id()?,
            &conversation,
            m,
            author,
            now,
        );
        message.redact(&self.redactor, conversation.channel_kind);
        self.conversations
            .add_message(batch, &conversation, &message);
        // What a CRM (any contract) logs: a note on the conversation.
        let (low, high) = survey.kind.range();
        let mut note = self.conversations.system_note(
            &conversation,
            format!(
                "Survey answered: {} {score} ({low}-{high})",
                survey.kind.as_str().to_uppercase()
            ),
            now,
        )?;
        note.metadata
            .insert(SURVEY_META.into(), survey.kind.as_str().into());
        self.conversations.add_message(batch, &conversation, &note);
        let mut tell_crm = false;
        for logged in [&message.id, &note.id] {
            tell_crm |= self.crm.record(
                batch,
                customer,
                CrmChange::InteractionLogged {
                    message_id: logged.clone(),
                },
            )?;
        }
        batch.record(survey_record(
            "survey.answered",
            &conversation,
            &survey,
            now,
        ));
        conversation.survey = Some(survey);
        if let Some(thanks) = self.surveys.get(channel).map(|c| c.thanks.clone())
            && !thanks.trim().is_empty()
        {
            self.queue_outbound(
                batch,
                &conversation,
                (Author::System, None, Some(SURVEY_NOTICE)),
                &thanks,
                Vec::new(),
                now,
            )?;
        }
        self.conversations.save(batch, &conversation);
        Ok(Some(Answered {
            conversation,
            message,
            tell_crm,
        }))
    }
}

/// The history's record of a survey sent or answered: its kind, and the
/// score once answered; attributed to the conversation's agent.
fn survey_record(
    kind: &str,
    conversation: &Conversation,
    survey: &Survey,
    at: u64,
) -> HistoryEvent {
    let mut event = conversation_event(kind, conversation, at);
    event.agent_id = survey.agent_id.clone();
    event.data = serde_json::json!({
        "survey": survey.kind,
        "score": survey.score,
        "channel_kind": conversation.channel_kind,
    });
    event
}
