//! The typed calls, one per plugin export. Each goes through the one call
//! path ([`Runtime::call`]) and checks what the plugin returned: an answer
//! the host cannot use is the plugin's fault, counted like a trap.

use tracing::Instrument as _;

use crate::wit::botting::{BotAction, BotContext};
use crate::wit::channeling::{Delivery, DeliveryError, OutboundAction, WebhookOutcome};
use crate::wit::crm_sync::CrmEvent;
use crate::wit::routing::{Candidates, Decision, RouteTask};
use crate::wit::types::{Customer, HttpRequest, InboundMessage, PluginError};

use super::call::{BotWorld, ChannelWorld, CrmWorld, RouterWorld};
use super::{CallError, Fault, Runtime};

impl Runtime {
    /// `router.select`. An `assign` naming an agent that is not a candidate
    /// is a fault.
    pub async fn route_select(
        &self,
        name: &str,
        task: &RouteTask,
        candidates: &Candidates,
    ) -> Result<Decision, CallError> {
        let (decision, called) = self
            .call::<RouterWorld, _>(name, async |router, store| {
                router.call_select(store, task, candidates).await
            })
            .instrument(tracing::debug_span!("plugin.select", plugin = name, task = %task.id))
            .await?;
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
        let (priority, _) = self
            .call::<RouterWorld, _>(name, async |router, store| {
                router.call_prioritize(store, task).await
            })
            .instrument(tracing::debug_span!("plugin.prioritize", plugin = name, task = %task.id))
            .await?;
        Ok(priority)
    }

    /// `channel.handle-webhook`. A response status outside 100..=599 is a
    /// fault.
    pub async fn channel_webhook(
        &self,
        name: &str,
        request: &HttpRequest,
    ) -> Result<Result<WebhookOutcome, PluginError>, CallError> {
        let (result, called) = self
            .call::<ChannelWorld, _>(name, async |channel, store| {
                channel.call_handle_webhook(store, request).await
            })
            .instrument(tracing::debug_span!("plugin.webhook", plugin = name))
            .await?;
        if let Ok(outcome) = &result {
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
        let (result, _) = self
            .call::<ChannelWorld, _>(name, async |channel, store| {
                channel.call_deliver(store, action).await
            })
            .instrument(tracing::debug_span!("plugin.deliver", plugin = name))
            .await?;
        Ok(result)
    }

    /// `bot.on-message`.
    pub async fn bot_message(
        &self,
        name: &str,
        context: &BotContext,
        message: &InboundMessage,
    ) -> Result<BotAction, CallError> {
        let (action, _) = self
            .call::<BotWorld, _>(name, async |bot, store| {
                bot.call_on_message(store, context, message).await
            })
            .instrument(tracing::debug_span!("plugin.on_message", plugin = name, conversation = %context.conversation_id))
            .await?;
        Ok(action)
    }

    /// `crm.on-event`.
    pub async fn crm_event(
        &self,
        name: &str,
        event: &CrmEvent,
    ) -> Result<Result<(), PluginError>, CallError> {
        let (result, called) = self
            .call::<CrmWorld, _>(name, async |crm, store| {
                crm.call_on_event(store, event).await
            })
            .instrument(tracing::debug_span!("plugin.on_event", plugin = name))
            .await?;
        called.check_reported(&result);
        Ok(result)
    }

    /// `crm.enrich`.
    pub async fn crm_enrich(
        &self,
        name: &str,
        customer: &Customer,
    ) -> Result<Result<Vec<(String, String)>, PluginError>, CallError> {
        let (result, called) = self
            .call::<CrmWorld, _>(name, async |crm, store| {
                crm.call_enrich(store, customer).await
            })
            .instrument(
                tracing::debug_span!("plugin.enrich", plugin = name, customer = %customer.id),
            )
            .await?;
        called.check_reported(&result);
        Ok(result)
    }
}
