//! The typed calls, one per plugin export. Each goes through the one call
//! path ([`Runtime::call`]) in the current contract's types; a plugin built
//! for 0.1 gets its arguments adapted and its answer adapted back. Each then
//! checks what the plugin returned: an answer the host cannot use is the
//! plugin's fault, counted like a trap.

use tracing::Instrument as _;

use crate::wit::adapt::{self, Adapt};
use crate::wit::botting::{BotAction, BotContext};
use crate::wit::channeling::{Delivery, DeliveryError, OutboundAction, WebhookOutcome};
use crate::wit::crm_sync::CrmEvent;
use crate::wit::routing::{Candidates, Decision, RouteTask};
use crate::wit::types::{Customer, HttpRequest, InboundMessage, PluginError};

use super::call::{
    Answer, BotWorld, BotWorldV0_1, ChannelWorld, ChannelWorldV0_1, CrmWorld, CrmWorldV0_1,
    RouterWorld, RouterWorldV0_1,
};
use super::{CallError, Fault, Runtime, output};

impl<T> Answer<T, T> {
    /// The answer, when both versions return the same type.
    fn either(self) -> T {
        match self {
            Answer::New(v) | Answer::Old(v) => v,
        }
    }
}

impl<N, O: Adapt<N>> Answer<N, O> {
    /// The answer in the current contract's types.
    fn adapted(self) -> N {
        match self {
            Answer::New(v) => v,
            Answer::Old(v) => v.adapt(),
        }
    }
}

impl Runtime {
    /// `router.select`. An `assign` naming an agent that is not a candidate
    /// is a fault.
    pub async fn route_select(
        &self,
        name: &str,
        task: &RouteTask,
        candidates: &Candidates,
    ) -> Result<Decision, CallError> {
        let (answer, called) = self
            .call::<RouterWorld, RouterWorldV0_1, _, _>(
                name,
                async |router, store| router.call_select(store, task, candidates).await,
                async |router, store| {
                    let (task, candidates) = (task.clone().adapt(), candidates.clone().adapt());
                    router.call_select(store, &task, &candidates).await
                },
            )
            .instrument(tracing::debug_span!("plugin.select", plugin = name, task = %task.id))
            .await?;
        let decision = answer.adapted();
        if let Decision::Assign(agent) = decision
            && !candidates.agents.contains(&agent)
        {
            return Err(called.reject(Fault::InvalidOutput(format!(
                "assigned agent {agent}, which is not a candidate"
            ))));
        }
        Ok(decision)
    }

    /// `router.prioritize`.
    pub async fn route_prioritize(&self, name: &str, task: &RouteTask) -> Result<u32, CallError> {
        let (answer, _) = self
            .call::<RouterWorld, RouterWorldV0_1, _, _>(
                name,
                async |router, store| router.call_prioritize(store, task).await,
                async |router, store| router.call_prioritize(store, &task.clone().adapt()).await,
            )
            .instrument(tracing::debug_span!("plugin.prioritize", plugin = name, task = %task.id))
            .await?;
        Ok(answer.either())
    }

    /// `channel.handle-webhook`. A response status outside 100..=599 is a
    /// fault.
    pub async fn channel_webhook(
        &self,
        name: &str,
        request: &HttpRequest,
    ) -> Result<Result<WebhookOutcome, PluginError>, CallError> {
        let (answer, called) = self
            .call::<ChannelWorld, ChannelWorldV0_1, _, _>(
                name,
                async |channel, store| channel.call_handle_webhook(store, request).await,
                async |channel, store| {
                    let request = request.clone().adapt();
                    channel.call_handle_webhook(store, &request).await
                },
            )
            .instrument(tracing::debug_span!("plugin.webhook", plugin = name))
            .await?;
        let result = match answer {
            Answer::New(result) => result,
            Answer::Old(result) => result
                .map(|outcome| adapt::webhook_outcome(outcome, called.legacy_trust()))
                .map_err(Adapt::adapt),
        };
        if let Ok(outcome) = &result {
            called.within(|limits| output::check_webhook(outcome, limits))?;
            let status = outcome.response.status;
            if !(100..=599).contains(&status) {
                return Err(called.reject(Fault::InvalidOutput(format!(
                    "HTTP status {status} is not valid"
                ))));
            }
        }
        called.check_reported(&result);
        Ok(result)
    }

    /// `channel.deliver`.
    pub async fn channel_deliver(
        &self,
        name: &str,
        action: &OutboundAction,
    ) -> Result<Result<Delivery, DeliveryError>, CallError> {
        let (answer, called) = self
            .call::<ChannelWorld, ChannelWorldV0_1, _, _>(
                name,
                async |channel, store| channel.call_deliver(store, action).await,
                async |channel, store| channel.call_deliver(store, &action.clone().adapt()).await,
            )
            .instrument(tracing::debug_span!("plugin.deliver", plugin = name))
            .await?;
        let result = answer.adapted();
        called.within(|limits| output::check_size(&result, limits))?;
        Ok(result)
    }

    /// `bot.on-message`.
    pub async fn bot_message(
        &self,
        name: &str,
        context: &BotContext,
        message: &InboundMessage,
    ) -> Result<BotAction, CallError> {
        let (answer, called) = self
            .call::<BotWorld, BotWorldV0_1, _, _>(
                name,
                async |bot, store| bot.call_on_message(store, context, message).await,
                async |bot, store| {
                    let (context, message) = (context.clone().adapt(), message.clone().adapt());
                    bot.call_on_message(store, &context, &message).await
                },
            )
            .instrument(tracing::debug_span!("plugin.on_message", plugin = name, conversation = %context.conversation_id))
            .await?;
        let action = answer.adapted();
        called.within(|limits| output::check_size(&action, limits))?;
        Ok(action)
    }

    /// `crm.on-event`.
    pub async fn crm_event(
        &self,
        name: &str,
        event: &CrmEvent,
    ) -> Result<Result<(), PluginError>, CallError> {
        let (answer, called) = self
            .call::<CrmWorld, CrmWorldV0_1, _, _>(
                name,
                async |crm, store| crm.call_on_event(store, event).await,
                async |crm, store| crm.call_on_event(store, &event.clone().adapt()).await,
            )
            .instrument(tracing::debug_span!("plugin.on_event", plugin = name))
            .await?;
        let result = answer.adapted();
        called.check_reported(&result);
        Ok(result)
    }

    /// `crm.enrich`.
    pub async fn crm_enrich(
        &self,
        name: &str,
        customer: &Customer,
    ) -> Result<Result<Vec<(String, String)>, PluginError>, CallError> {
        let (answer, called) = self
            .call::<CrmWorld, CrmWorldV0_1, _, _>(
                name,
                async |crm, store| crm.call_enrich(store, customer).await,
                async |crm, store| crm.call_enrich(store, &customer.clone().adapt()).await,
            )
            .instrument(
                tracing::debug_span!("plugin.enrich", plugin = name, customer = %customer.id),
            )
            .await?;
        let result = answer.adapted();
        called.check_reported(&result);
        Ok(result)
    }
}
