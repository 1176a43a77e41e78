//! The one call path every plugin export goes through: find the serving
//! version of a plugin of the right kind, get an instance (fresh from its
//! `InstancePre`, or a warm one for routers), run the call under the
//! plugin's memory limit and deadline, classify how it ended, and charge
//! the outcome to the plugin's health.

use std::sync::{Arc, Mutex};

use wasmtime::Engine;

use crate::wit::types::{ErrorKind, PluginError, Trust};
use crate::wit::{v0_1, v0_2, v0_3, v0_4};

use super::limits::Limits;
use super::registry::{LoadedPlugin, PluginSlot, WARM_ROUTERS, WorldPre};
use super::sandbox::{PluginContext, State};
use super::{CallError, Fault, PluginKind, Runtime};

/// Why a call did not run to a result, before it is charged to the plugin.
pub(super) enum RunError {
    Fault(Fault),
    Busy(String),
}

/// A plugin world as the call path needs it: which kind it is, how to find
/// its pre-linked component, and how to instantiate it.
pub(super) trait World {
    /// The plugin kind implementing the world.
    const KIND: PluginKind;
    /// The pre-linked component.
    type Pre: Send + Sync;
    /// An instance's typed exports.
    type Bindings: Send;
    /// The world's `InstancePre` in a loaded plugin (its kind was checked).
    fn pre(world: &WorldPre) -> Option<&Self::Pre>;
    /// A fresh instance in `store`.
    fn instantiate(
        pre: &Self::Pre,
        store: &mut wasmtime::Store<State>,
    ) -> impl Future<Output = wasmtime::Result<Self::Bindings>> + Send;
    /// Warm instances kept between calls, for worlds that keep them.
    fn warm_pool(_plugin: &LoadedPlugin) -> Option<&Mutex<Vec<WarmInstance<Self>>>> {
        None
    }
}

/// A live instance and its store, ready for the next call.
pub(super) type WarmInstance<W> = (wasmtime::Store<State>, <W as World>::Bindings);

macro_rules! world {
    (
        $marker:ident: $doc:literal, $kind:ident, $variant:ident,
        $($module:ident)::+ :: { $pre:ident, $bindings:ident }
        $(, warm: $pool:ident)?
    ) => {
        #[doc = $doc]
        pub(super) struct $marker;

        impl World for $marker {
            const KIND: PluginKind = PluginKind::$kind;
            type Pre = $($module)::+::$pre<State>;
            type Bindings = $($module)::+::$bindings;

            fn pre(world: &WorldPre) -> Option<&Self::Pre> {
                match world {
                    WorldPre::$variant(pre) => Some(pre),
                    _ => None,
                }
            }

            async fn instantiate(
                pre: &Self::Pre,
                store: &mut wasmtime::Store<State>,
            ) -> wasmtime::Result<Self::Bindings> {
                pre.instantiate_async(store).await
            }

            $(
                fn warm_pool(plugin: &LoadedPlugin) -> Option<&Mutex<Vec<WarmInstance<Self>>>> {
                    Some(&plugin.$pool)
                }
            )?
        }
    };
}

world!(ChannelWorld: "`world channel`.", Channel, Channel, v0_4::channel::{ChannelPre, Channel});
world!(BotWorld: "`world bot`.", Bot, Bot, v0_4::bot::{BotPre, Bot});
world!(CrmWorld: "`world crm`.", Crm, Crm, v0_4::crm::{CrmPre, Crm});
world!(
    AutomationWorld: "`world automation`.", Automation, Automation,
    v0_4::automation::{AutomationPre, Automation}
);
world!(
    RouterWorld: "`world router`.", Router, Router, v0_4::router::{RouterPre, Router},
    warm: warm_routers
);
world!(
    ChannelWorldV0_3: "`world channel` of 0.3.", Channel, ChannelV0_3,
    v0_3::channel::{ChannelPre, Channel}
);
world!(BotWorldV0_3: "`world bot` of 0.3.", Bot, BotV0_3, v0_3::bot::{BotPre, Bot});
world!(CrmWorldV0_3: "`world crm` of 0.3.", Crm, CrmV0_3, v0_3::crm::{CrmPre, Crm});
world!(
    RouterWorldV0_3: "`world router` of 0.3.", Router, RouterV0_3,
    v0_3::router::{RouterPre, Router},
    warm: warm_routers_v0_3
);
world!(
    ChannelWorldV0_2: "`world channel` of 0.2.", Channel, ChannelV0_2,
    v0_2::channel::{ChannelPre, Channel}
);
world!(BotWorldV0_2: "`world bot` of 0.2.", Bot, BotV0_2, v0_2::bot::{BotPre, Bot});
world!(CrmWorldV0_2: "`world crm` of 0.2.", Crm, CrmV0_2, v0_2::crm::{CrmPre, Crm});
world!(
    RouterWorldV0_2: "`world router` of 0.2.", Router, RouterV0_2,
    v0_2::router::{RouterPre, Router},
    warm: warm_routers_v0_2
);
world!(
    ChannelWorldV0_1: "`world channel` of 0.1.", Channel, ChannelV0_1,
    v0_1::channel::{ChannelPre, Channel}
);
world!(BotWorldV0_1: "`world bot` of 0.1.", Bot, BotV0_1, v0_1::bot::{BotPre, Bot});
world!(CrmWorldV0_1: "`world crm` of 0.1.", Crm, CrmV0_1, v0_1::crm::{CrmPre, Crm});
world!(
    RouterWorldV0_1: "`world router` of 0.1.", Router, RouterV0_1,
    v0_1::router::{RouterPre, Router},
    warm: warm_routers_v0_1
);

/// One world in each contract version the host loads, current first.
pub(super) trait Worlds {
    /// The current contract's world.
    type Current: World;
    /// 0.3's.
    type V0_3: World;
    /// 0.2's.
    type V0_2: World;
    /// 0.1's.
    type V0_1: World;
}

macro_rules! worlds {
    ($($name:ident: $doc:literal = $current:ident, $v0_3:ident, $v0_2:ident, $v0_1:ident;)*) => {
        $(
            #[doc = $doc]
            pub(super) struct $name;
            impl Worlds for $name {
                type Current = $current;
                type V0_3 = $v0_3;
                type V0_2 = $v0_2;
                type V0_1 = $v0_1;
            }
        )*
    };
}

worlds! {
    Channels: "`world channel` in every version." =
        ChannelWorld, ChannelWorldV0_3, ChannelWorldV0_2, ChannelWorldV0_1;
    Bots: "`world bot` in every version." = BotWorld, BotWorldV0_3, BotWorldV0_2, BotWorldV0_1;
    Crms: "`world crm` in every version." = CrmWorld, CrmWorldV0_3, CrmWorldV0_2, CrmWorldV0_1;
    Routers: "`world router` in every version." =
        RouterWorld, RouterWorldV0_3, RouterWorldV0_2, RouterWorldV0_1;
    Automations: "`world automation`: current only (older versions have none, so their slots repeat it and never match)." =
        AutomationWorld, AutomationWorld, AutomationWorld, AutomationWorld;
}

/// What a call answered, in the types of the contract version the plugin
/// was built for (the caller adapts it).
pub(super) enum Answer<N, L, M, O> {
    /// From a component of the current contract.
    Current(N),
    /// From a 0.3 component.
    V0_3(L),
    /// From a 0.2 component.
    V0_2(M),
    /// From a 0.1 component.
    V0_1(O),
}

/// The plugin a call ran on, for checks of what it returned: an invalid
/// answer is charged to the plugin like a trap.
pub(super) struct Called<'a> {
    runtime: &'a Runtime,
    slot: Arc<PluginSlot>,
    plugin: Arc<LoadedPlugin>,
}

impl Called<'_> {
    /// Fails the call when what it returned is over the plugin's limits.
    pub fn within(
        &self,
        check: impl FnOnce(&Limits) -> Result<(), String>,
    ) -> Result<(), CallError> {
        check(&self.plugin.ctx.limits).map_err(|m| self.reject(Fault::LimitExceeded(m)))
    }

    /// How the host trusts identities from this plugin when it was built
    /// for 0.1 (which cannot say).
    pub fn legacy_trust(&self) -> Trust {
        self.plugin.legacy_trust
    }

    /// Charges a fault found in the call's output; the call fails with it.
    pub fn reject(&self, fault: Fault) -> CallError {
        self.runtime.fault(&self.slot, &self.plugin, fault, true)
    }

    /// A plugin-reported error of kind `internal` is a fault of the plugin
    /// (its health counts it), though the caller still gets the error.
    pub fn check_reported<T>(&self, result: &Result<T, PluginError>) {
        if let Err(e) = result
            && e.kind == ErrorKind::Internal
        {
            self.reject(Fault::Internal(e.message.clone()));
        }
    }
}

impl Runtime {
    /// Calls an export of plugin `name`: the whole path every typed call
    /// shares. `exports` holds the call for each contract version, current
    /// first; the one the plugin was built for runs.
    pub(super) async fn call<W: Worlds, TN, TL, TM, TO>(
        &self,
        name: &str,
        exports: (
            impl AsyncFnOnce(
                &<W::Current as World>::Bindings,
                &mut wasmtime::Store<State>,
            ) -> wasmtime::Result<TN>,
            impl AsyncFnOnce(
                &<W::V0_3 as World>::Bindings,
                &mut wasmtime::Store<State>,
            ) -> wasmtime::Result<TL>,
            impl AsyncFnOnce(
                &<W::V0_2 as World>::Bindings,
                &mut wasmtime::Store<State>,
            ) -> wasmtime::Result<TM>,
            impl AsyncFnOnce(
                &<W::V0_1 as World>::Bindings,
                &mut wasmtime::Store<State>,
            ) -> wasmtime::Result<TO>,
        ),
    ) -> Result<(Answer<TN, TL, TM, TO>, Called<'_>), CallError> {
        let (current, v0_3, v0_2, v0_1) = exports;
        let kind = <W::Current as World>::KIND;
        let (slot, plugin) = self.begin(name, kind)?;
        let outcome = if let Some(pre) = W::Current::pre(&plugin.pre) {
            self.invoke::<W::Current, TN>(&plugin, pre, current)
                .await
                .map(Answer::Current)
        } else if let Some(pre) = W::V0_3::pre(&plugin.pre) {
            self.invoke::<W::V0_3, TL>(&plugin, pre, v0_3)
                .await
                .map(Answer::V0_3)
        } else if let Some(pre) = W::V0_2::pre(&plugin.pre) {
            self.invoke::<W::V0_2, TM>(&plugin, pre, v0_2)
                .await
                .map(Answer::V0_2)
        } else if let Some(pre) = W::V0_1::pre(&plugin.pre) {
            self.invoke::<W::V0_1, TO>(&plugin, pre, v0_1)
                .await
                .map(Answer::V0_1)
        } else {
            return Err(CallError::WrongKind {
                plugin: name.to_string(),
                expected: kind,
                actual: plugin.manifest.kind,
            });
        };
        let value = self.settle(&slot, &plugin, outcome)?;
        Ok((
            value,
            Called {
                runtime: self,
                slot,
                plugin,
            },
        ))
    }

    /// Runs `export` in an instance of world `W`: a warm one when the
    /// world keeps them, a fresh one otherwise.
    async fn invoke<W: World, T>(
        &self,
        plugin: &LoadedPlugin,
        pre: &W::Pre,
        export: impl AsyncFnOnce(&W::Bindings, &mut wasmtime::Store<State>) -> wasmtime::Result<T>,
    ) -> Result<T, RunError> {
        match W::warm_pool(plugin) {
            Some(pool) => {
                warm_call::<W, T>(&self.inner.engine, &plugin.ctx, pool, pre, export).await
            }
            None => {
                run(&self.inner.engine, &plugin.ctx, async |store| {
                    let instance = W::instantiate(pre, store).await?;
                    export(&instance, store).await
                })
                .await
            }
        }
    }

    /// Looks up a plugin that can take a call of `kind`.
    fn begin(
        &self,
        name: &str,
        kind: PluginKind,
    ) -> Result<(Arc<PluginSlot>, Arc<LoadedPlugin>), CallError> {
        let slot = self
            .slot(name)
            .ok_or_else(|| CallError::NotFound(name.to_string()))?;
        if slot.is_disabled() {
            return Err(CallError::Disabled(name.to_string()));
        }
        let plugin = slot
            .current
            .load_full()
            .ok_or_else(|| CallError::NotLoaded {
                plugin: name.to_string(),
                error: slot.load_error().unwrap_or_else(|| "not loaded".into()),
            })?;
        if plugin.manifest.kind != kind {
            return Err(CallError::WrongKind {
                plugin: name.to_string(),
                expected: kind,
                actual: plugin.manifest.kind,
            });
        }
        if !plugin.missing_config.is_empty() {
            return Err(CallError::Unconfigured {
                plugin: name.to_string(),
                keys: plugin.missing_config.clone(),
            });
        }
        if slot.circuit_open() {
            return Err(CallError::CircuitOpen {
                plugin: name.to_string(),
                version: plugin.manifest.version.clone(),
            });
        }
        Ok((slot, plugin))
    }

    /// Charges a call's outcome to the plugin's health.
    fn settle<T>(
        &self,
        slot: &PluginSlot,
        plugin: &LoadedPlugin,
        outcome: Result<T, RunError>,
    ) -> Result<T, CallError> {
        match outcome {
            Ok(value) => {
                slot.record_success();
                Ok(value)
            }
            Err(RunError::Busy(message)) => Err(CallError::Busy {
                plugin: slot.name.clone(),
                version: plugin.manifest.version.clone(),
                message,
            }),
            Err(RunError::Fault(fault)) => Err(self.fault(slot, plugin, fault, false)),
        }
    }

    /// Charges a fault to the plugin (opening its circuit after too many in
    /// a row) and turns it into the call's error.
    fn fault(
        &self,
        slot: &PluginSlot,
        plugin: &LoadedPlugin,
        fault: Fault,
        after_success: bool,
    ) -> CallError {
        let threshold = self.inner.config.runtime.circuit_open_after;
        let opened = if after_success {
            slot.record_output_fault(&fault, threshold)
        } else {
            slot.record_fault(&fault, threshold)
        };
        tracing::warn!(plugin = %slot.name, version = %plugin.manifest.version, %fault, "plugin call failed");
        if opened {
            tracing::error!(plugin = %slot.name, version = %plugin.manifest.version, "circuit opened after {threshold} consecutive failures; calls refused until reload");
        }
        CallError::Fault {
            plugin: slot.name.clone(),
            version: plugin.manifest.version.clone(),
            fault,
        }
    }
}

/// Runs a call in a warm instance when one is free (routers run on every
/// assignment, and a decision costs less than instantiating). Only an
/// instance whose call succeeded goes back to the pool, so nothing survives
/// a trap, a timeout or a memory fault.
async fn warm_call<W: World, T>(
    engine: &Engine,
    ctx: &Arc<PluginContext>,
    pool: &Mutex<Vec<WarmInstance<W>>>,
    pre: &W::Pre,
    export: impl AsyncFnOnce(&W::Bindings, &mut wasmtime::Store<State>) -> wasmtime::Result<T>,
) -> Result<T, RunError> {
    let warm = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let (mut store, instance) = match warm {
        Some((mut store, instance)) => {
            store.data_mut().rearm(ctx.timeout);
            store.set_epoch_deadline(1);
            (store, Some(instance))
        }
        None => (State::store(engine, ctx), None),
    };
    let mut kept = None;
    let outcome = run_in(&mut store, ctx, async |store| {
        let instance = match instance {
            Some(i) => i,
            None => W::instantiate(pre, store).await?,
        };
        let value = export(&instance, store).await?;
        kept = Some(instance);
        Ok(value)
    })
    .await;
    if outcome.is_ok()
        && store.data().stderr_is_empty()
        && let Some(instance) = kept
    {
        let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < WARM_ROUTERS {
            pool.push((store, instance));
        }
    }
    outcome
}

/// Runs one call in a fresh store with the plugin's limits and deadline, and
/// classifies how it ended.
pub(super) async fn run<T>(
    engine: &Engine,
    ctx: &Arc<PluginContext>,
    call: impl AsyncFnOnce(&mut wasmtime::Store<State>) -> wasmtime::Result<T>,
) -> Result<T, RunError> {
    let mut store = State::store(engine, ctx);
    run_in(&mut store, ctx, call).await
}

/// Runs a call in `store` (fresh, or a warm router's re-armed one) under the
/// plugin's deadline and classifies how it ended.
async fn run_in<T>(
    store: &mut wasmtime::Store<State>,
    ctx: &Arc<PluginContext>,
    call: impl AsyncFnOnce(&mut wasmtime::Store<State>) -> wasmtime::Result<T>,
) -> Result<T, RunError> {
    let deadline = store.data().deadline();
    let result = tokio::time::timeout_at(deadline.into(), call(store)).await;
    let trace = store.data().trace();
    if let Some(violation) = trace.violation {
        return Err(RunError::Fault(Fault::CapabilityDenied(violation)));
    }
    if let Some(limit) = trace.over_limit {
        return Err(RunError::Fault(Fault::LimitExceeded(limit)));
    }
    let result = match result {
        Err(_elapsed) => {
            return Err(RunError::Fault(Fault::Timeout {
                ms: ctx.timeout.as_millis() as u64,
            }));
        }
        Ok(result) => result,
    };
    match result {
        Ok(value) => Ok(value),
        Err(_) if trace.timed_out => Err(RunError::Fault(Fault::Timeout {
            ms: ctx.timeout.as_millis() as u64,
        })),
        Err(_) if trace.memory_exceeded => {
            Err(RunError::Fault(Fault::MemoryLimit { mb: ctx.memory_mb }))
        }
        Err(e) => {
            let chain = error_chain(&e);
            if chain.contains("concurrent") && chain.contains("limit") {
                return Err(RunError::Busy(chain));
            }
            let mut message = match e.downcast_ref::<wasmtime::Trap>() {
                Some(trap) => trap.to_string(),
                None => first_line(&e),
            };
            if let Some(panic) = panic_message(&store.data().stderr_text()) {
                message = format!("{message} ({panic})");
            }
            Err(RunError::Fault(Fault::Trap(message)))
        }
    }
}

/// The guest's panic message from its stderr: `panicked at <place>:` and the
/// message lines after it, without the thread name and backtrace note.
fn panic_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines().skip_while(|l| !l.contains("panicked at"));
    let first = lines.next()?;
    let place = &first[first.find("panicked at")?..];
    let message: Vec<&str> = lines
        .take_while(|l| !l.starts_with("note:") && !l.trim().is_empty())
        .map(str::trim)
        .collect();
    Some(format!("{place} {}", message.join(" ")).trim().to_string())
}

/// An error's first line.
pub(super) fn first_line(e: &wasmtime::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

/// An error with its causes, on one line.
pub(super) fn error_chain(e: &wasmtime::Error) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
