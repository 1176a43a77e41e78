//! The typed calls, one per plugin export. Each goes through the one call
//! path ([`Runtime::call`]) in the current contract's types; a plugin built
//! for 0.3 gets its arguments adapted and its answer adapted back, one
//! built for 0.2 through 0.3, and one built for 0.1 through both. Each then checks what the plugin
//! returned: an answer the host cannot use is the plugin's fault, counted
//! like a trap.

use tracing::Instrument as _;

use crate::wit::adapt::{self, Adapt};
use crate::wit::botting::{BotAction, BotContext};
use crate::wit::channeling::{Delivery, DeliveryError, Media, OutboundAction, WebhookOutcome};
use crate::wit::crm_sync::CrmEvent;
use crate::wit::routing::{Candidates, Decision, RouteTask};
use crate::wit::types::{
    Attachment, Customer, ErrorKind, HttpRequest, InboundMessage, PluginError,
};
use crate::wit::{adapt_v0_2, adapt_v0_3};
use crate::wit::{v0_1, v0_2, v0_3};

use super::call::{Answer, Bots, Channels, Crms, Routers};
use super::{CallError, Fault, Runtime, output};

impl<T> Answer<T, T, T, T> {
    /// The answer, when every version returns the same type.
    pub(super) fn either(self) -> T {
        match self {
            Answer::Current(v) | Answer::V0_3(v) | Answer::V0_2(v) | Answer::V0_1(v) => v,
        }
    }
}

impl<N, L: Adapt<N>, M: Adapt<L>, O: Adapt<M>> Answer<N, L, M, O> {
    /// The answer in the current contract's types.
    fn adapted(self) -> N {
        match self {
            Answer::Current(v) => v,
            Answer::V0_3(v) => v.adapt(),
            Answer::V0_2(v) => v.adapt().adapt(),
            Answer::V0_1(v) => v.adapt().adapt().adapt(),
        }
    }
}

/// A current value as 0.2 sees it: adapted to 0.3 (`L`), then to 0.2.
fn via<L, A: Adapt<L>, M>(value: A) -> M
where
    L: Adapt<M>,
{
    value.adapt().adapt()
}

/// A current value as 0.1 sees it: through 0.3 (`L`) and 0.2 (`M`).
fn via2<L, M, A: Adapt<L>, O>(value: A) -> O
where
    L: Adapt<M>,
    M: Adapt<O>,
{
    value.adapt().adapt().adapt()
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
            .call::<Routers, _, _, _, _>(
                name,
                (
                    async |router, store| router.call_select(store, task, candidates).await,
                    async |router, store| {
                        let (task, candidates) = (task.clone().adapt(), candidates.clone().adapt());
                        router.call_select(store, &task, &candidates).await
                    },
                    async |router, store| {
                        let task = via::<v0_3::routing::RouteTask, _, _>(task.clone());
                        let candidates = via::<v0_3::routing::Candidates, _, _>(candidates.clone());
                        router.call_select(store, &task, &candidates).await
                    },
                    async |router, store| {
                        let task = via2::<v0_3::routing::RouteTask, v0_2::routing::RouteTask, _, _>(
                            task.clone(),
                        );
                        let candidates =
                            via2::<v0_3::routing::Candidates, v0_2::routing::Candidates, _, _>(
                                candidates.clone(),
                            );
                        router.call_select(store, &task, &candidates).await
                    },
                ),
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
            .call::<Routers, _, _, _, _>(
                name,
                (
                    async |router, store| router.call_prioritize(store, task).await,
                    async |router, store| {
                        router.call_prioritize(store, &task.clone().adapt()).await
                    },
                    async |router, store| {
                        let task = via::<v0_3::routing::RouteTask, _, _>(task.clone());
                        router.call_prioritize(store, &task).await
                    },
                    async |router, store| {
                        let task = via2::<v0_3::routing::RouteTask, v0_2::routing::RouteTask, _, _>(
                            task.clone(),
                        );
                        router.call_prioritize(store, &task).await
                    },
                ),
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
            .call::<Channels, _, _, _, _>(
                name,
                (
                    async |channel, store| channel.call_handle_webhook(store, request).await,
                    async |channel, store| {
                        let request = request.clone().adapt();
                        channel.call_handle_webhook(store, &request).await
                    },
                    async |channel, store| {
                        let request = via::<v0_3::types::HttpRequest, _, _>(request.clone());
                        channel.call_handle_webhook(store, &request).await
                    },
                    async |channel, store| {
                        let request =
                            via2::<v0_3::types::HttpRequest, v0_2::types::HttpRequest, _, _>(
                                request.clone(),
                            );
                        channel.call_handle_webhook(store, &request).await
                    },
                ),
            )
            .instrument(tracing::debug_span!("plugin.webhook", plugin = name))
            .await?;
        let result = match answer {
            Answer::Current(result) => result,
            Answer::V0_3(result) => result.adapt(),
            Answer::V0_2(result) => {
                let result: Result<v0_3::channeling::WebhookOutcome, v0_3::types::PluginError> =
                    result.adapt();
                result.adapt()
            }
            Answer::V0_1(result) => {
                let trust: v0_3::types::Trust = called.legacy_trust().adapt();
                let result: Result<v0_3::channeling::WebhookOutcome, v0_3::types::PluginError> =
                    result
                        .map(|outcome| adapt::webhook_outcome(outcome, trust.adapt()).adapt())
                        .map_err(|e| e.adapt().adapt());
                result.adapt()
            }
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
            .call::<Channels, _, _, _, _>(
                name,
                (
                    async |channel, store| channel.call_deliver(store, action).await,
                    // A callback is not an action an older channel has: it
                    // cannot be delivered there, now or later.
                    async |channel, store| match adapt_v0_3::outbound_action(action.clone()) {
                        Some(action) => channel.call_deliver(store, &action).await,
                        None => Ok(Err(cannot_deliver("0.3").adapt())),
                    },
                    async |channel, store| match adapt_v0_3::outbound_action(action.clone()) {
                        Some(action) => channel.call_deliver(store, &action.adapt()).await,
                        None => Ok(Err(via::<v0_3::channeling::DeliveryError, _, _>(
                            cannot_deliver("0.2"),
                        ))),
                    },
                    async |channel, store| match adapt_v0_3::outbound_action(action.clone()) {
                        Some(action) => {
                            let action: v0_2::channeling::OutboundAction = action.adapt();
                            channel.call_deliver(store, &action.adapt()).await
                        }
                        None => Ok(Err(via2::<
                            v0_3::channeling::DeliveryError,
                            v0_2::channeling::DeliveryError,
                            _,
                            _,
                        >(cannot_deliver("0.1")))),
                    },
                ),
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
            .call::<Bots, _, _, _, _>(
                name,
                (
                    async |bot, store| {
                        bot.call_on_message(store, context, message).await
                    },
                    async |bot, store| {
                        let (context, message) =
                            (context.clone().adapt(), message.clone().adapt());
                        bot.call_on_message(store, &context, &message).await
                    },
                    async |bot, store| {
                        let context = via::<v0_3::botting::BotContext, _, _>(context.clone());
                        let message = via::<v0_3::types::InboundMessage, _, _>(message.clone());
                        bot.call_on_message(store, &context, &message).await
                    },
                    async |bot, store| {
                        let context = via2::<
                            v0_3::botting::BotContext,
                            v0_2::botting::BotContext,
                            _,
                            _,
                        >(context.clone());
                        let message = via2::<
                            v0_3::types::InboundMessage,
                            v0_2::types::InboundMessage,
                            _,
                            _,
                        >(message.clone());
                        bot.call_on_message(store, &context, &message).await
                    },
                ),
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
            .call::<Crms, _, _, _, _>(
                name,
                (
                    async |crm, store| crm.call_on_event(store, event).await,
                    // An event an older contract has no case for (a note,
                    // an erasure) is not for that plugin: it has heard of it.
                    async |crm, store| match adapt_v0_3::crm_event(event.clone()) {
                        Some(event) => crm.call_on_event(store, &event).await,
                        None => Ok(unheard(name, "0.3", event)),
                    },
                    async |crm, store| match adapt_v0_3::crm_event(event.clone())
                        .and_then(adapt_v0_2::crm_event)
                    {
                        Some(event) => crm.call_on_event(store, &event).await,
                        None => Ok(unheard(name, "0.2", event)),
                    },
                    async |crm, store| match adapt_v0_3::crm_event(event.clone())
                        .and_then(adapt_v0_2::crm_event)
                    {
                        Some(event) => {
                            let event: v0_1::crm_sync::CrmEvent = event.adapt();
                            crm.call_on_event(store, &event).await
                        }
                        None => Ok(unheard(name, "0.1", event)),
                    },
                ),
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
            .call::<Crms, _, _, _, _>(
                name,
                (
                    async |crm, store| crm.call_enrich(store, customer).await,
                    async |crm, store| crm.call_enrich(store, &customer.clone().adapt()).await,
                    async |crm, store| {
                        let customer = via::<v0_3::types::Customer, _, _>(customer.clone());
                        crm.call_enrich(store, &customer).await
                    },
                    async |crm, store| {
                        let customer = via2::<v0_3::types::Customer, v0_2::types::Customer, _, _>(
                            customer.clone(),
                        );
                        crm.call_enrich(store, &customer).await
                    },
                ),
            )
            .instrument(
                tracing::debug_span!("plugin.enrich", plugin = name, customer = %customer.id),
            )
            .await?;
        let result = answer.adapted();
        called.check_reported(&result);
        Ok(result)
    }

    /// `channel.fetch-media` (0.3): the bytes of an attachment the channel
    /// reported. A channel built for an earlier contract has no such export:
    /// its attachments cannot be opened (`bad-request`).
    pub async fn channel_fetch_media(
        &self,
        name: &str,
        attachment: &Attachment,
    ) -> Result<Result<Media, PluginError>, CallError> {
        let older = |api: &str| {
            Err(PluginError {
                kind: ErrorKind::BadRequest,
                message: format!(
                    "the channel was built for contract {api}, which cannot fetch media"
                ),
            })
        };
        let (answer, called) = self
            .call::<Channels, _, _, _, _>(
                name,
                (
                    async |channel, store| channel.call_fetch_media(store, attachment).await,
                    async |channel, store| {
                        channel
                            .call_fetch_media(store, &attachment.clone().adapt())
                            .await
                    },
                    async |_, _| Ok(older("0.2")),
                    async |_, _| Ok(older("0.1")),
                ),
            )
            .instrument(tracing::debug_span!("plugin.fetch_media", plugin = name))
            .await?;
        let result = match answer {
            Answer::V0_3(result) => result.adapt(),
            Answer::Current(result) | Answer::V0_2(result) | Answer::V0_1(result) => result,
        };
        called.check_reported(&result);
        Ok(result)
    }
}

/// Why an action an older channel has no case for (a callback) cannot be
/// delivered: for good, so the outbox does not retry it.
fn cannot_deliver(api: &str) -> DeliveryError {
    DeliveryError {
        retryable: false,
        message: format!(
            "the channel was built for contract {api}, which cannot call a customer back; rebuild it against the current SDK"
        ),
    }
}

/// An event a CRM built for an older contract has no case for is not sent
/// to it: it is done with, as if delivered. An erasure it never hears of
/// leaves the customer's data in the CRM, so that is said where an admin
/// looks.
fn unheard<E>(plugin: &str, api: &str, event: &CrmEvent) -> Result<(), E> {
    if let CrmEvent::CustomerErased(erased) = event {
        tracing::warn!(
            plugin,
            customer = %erased.customer.id,
            "the CRM connector was built for contract {api}, which has no customer-erased event: erase the customer in the CRM by hand, or rebuild the connector against the current SDK"
        );
    }
    Ok(())
}
