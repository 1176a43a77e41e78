//! The calls of `world automation` (contract 0.4.1). Only the current
//! contract has the world, so unlike the other kinds there is nothing to
//! adapt: the older versions' slots of the call are never reached.

use tracing::Instrument as _;

use crate::wit::automating::{AutomationAction, AutomationEvent, Trigger};
use crate::wit::types::PluginError;

use super::call::Automations;
use super::{CallError, Fault, Runtime};

/// The most actions one event may answer; more is the plugin's fault.
pub const MAX_ACTIONS: usize = 32;

impl Runtime {
    /// `automation.subscribe`: the triggers the plugin wants.
    pub async fn automation_subscribe(&self, name: &str) -> Result<Vec<Trigger>, CallError> {
        let (answer, _) = self
            .call::<Automations, _, _, _, _>(
                name,
                (
                    async |a, store| a.call_subscribe(store).await,
                    async |a, store| a.call_subscribe(store).await,
                    async |a, store| a.call_subscribe(store).await,
                    async |a, store| a.call_subscribe(store).await,
                ),
            )
            .instrument(tracing::debug_span!("plugin.subscribe", plugin = name))
            .await?;
        Ok(answer.either())
    }

    /// `automation.on-event`: the actions to take. More than
    /// [`MAX_ACTIONS`] is a fault.
    pub async fn automation_on_event(
        &self,
        name: &str,
        event: &AutomationEvent,
    ) -> Result<Result<Vec<AutomationAction>, PluginError>, CallError> {
        let conversation = event
            .subject
            .as_ref()
            .map(|s| s.conversation_id.as_str())
            .unwrap_or_default();
        let (answer, called) = self
            .call::<Automations, _, _, _, _>(
                name,
                (
                    async |a, store| a.call_on_event(store, event).await,
                    async |a, store| a.call_on_event(store, event).await,
                    async |a, store| a.call_on_event(store, event).await,
                    async |a, store| a.call_on_event(store, event).await,
                ),
            )
            .instrument(tracing::debug_span!(
                "plugin.on_event",
                plugin = name,
                trigger = ?event.trigger,
                conversation
            ))
            .await?;
        let result = answer.either();
        called.check_reported(&result);
        if let Ok(actions) = &result
            && actions.len() > MAX_ACTIONS
        {
            return Err(called.reject(Fault::InvalidOutput(format!(
                "answered {} actions; at most {MAX_ACTIONS} per event",
                actions.len()
            ))));
        }
        Ok(result)
    }
}
