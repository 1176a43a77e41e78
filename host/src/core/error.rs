//! Why a core operation failed, and what kind of failure that is for
//! whoever answers the request (the API turns a [`Failure`] into an HTTP
//! status; the core knows nothing of HTTP).

use crate::accounts::AccountError;
use crate::attachments::BlobError;
use crate::canned::CannedError;
use crate::customers::CustomerError;
use crate::routing::RoutingError;
use crate::runtime::{CallError, InstallError, ReloadError};
use crate::store::StoreError;
use crate::wit::types::ErrorKind;

/// Why a core operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Bad input from the caller.
    #[error("{0}")]
    Invalid(String),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// Wrong state.
    #[error("{0}")]
    Conflict(String),
    /// It existed and was erased.
    #[error("{0}")]
    Gone(String),
    /// What the request needs is not serving now.
    #[error("{0}")]
    Unavailable(String),
    /// The channel cannot do this (e.g. open or send a file).
    #[error("{0}")]
    Unsupported(String),
    /// A channel plugin answered a webhook with an error of its own.
    #[error("{message}")]
    Plugin {
        /// What kind of error the plugin reported.
        kind: ErrorKind,
        /// Its message.
        message: String,
    },
    /// A routing operation did not happen.
    #[error(transparent)]
    Routing(#[from] RoutingError),
    /// A customer operation did not happen.
    #[error(transparent)]
    Customer(#[from] CustomerError),
    /// A plugin failed or could not run.
    #[error(transparent)]
    Call(#[from] CallError),
    /// An admin's reload, enable or disable did not happen.
    #[error(transparent)]
    Reload(#[from] ReloadError),
    /// An uploaded bundle was not installed.
    #[error(transparent)]
    Install(#[from] InstallError),
    /// A canned response was not saved.
    #[error(transparent)]
    Canned(#[from] CannedError),
    /// A file was not stored or read.
    #[error(transparent)]
    Attachment(#[from] BlobError),
    /// A password or session operation did not happen.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// An event feed operation did not happen.
    #[error(transparent)]
    Feed(#[from] crate::feeds::FeedError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What kind of failure a [`CoreError`] is, for the caller's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request is malformed or breaks a rule.
    Invalid,
    /// What it names does not exist.
    NotFound,
    /// The caller may not do this.
    Forbidden,
    /// It does not fit the current state.
    Conflict,
    /// It was erased.
    Gone,
    /// Outside what the channel can do.
    Unsupported,
    /// Wrong login or password.
    Unauthenticated,
    /// An uploaded bundle does not validate (nothing was written).
    InvalidBundle,
    /// A bundle on disk does not load (the previous version keeps serving).
    LoadFailed,
    /// The channel plugin refused the request with this kind of error.
    PluginAnswered(ErrorKind),
    /// The plugin cannot take calls now (disabled, not loaded, circuit
    /// open, no free instance).
    PluginUnavailable,
    /// The plugin misbehaved (trap, timeout, memory, invalid output).
    PluginFailed,
    /// Our fault.
    Internal,
}

impl CoreError {
    /// What kind of failure this is.
    pub fn failure(&self) -> Failure {
        match self {
            CoreError::Invalid(_) => Failure::Invalid,
            CoreError::NotFound(_) => Failure::NotFound,
            CoreError::Conflict(_) => Failure::Conflict,
            CoreError::Gone(_) => Failure::Gone,
            CoreError::Unavailable(_) => Failure::PluginUnavailable,
            CoreError::Unsupported(_) => Failure::Unsupported,
            CoreError::Plugin { kind, .. } => Failure::PluginAnswered(*kind),
            CoreError::Routing(e) => match e {
                RoutingError::Invalid(_) => Failure::Invalid,
                RoutingError::NotFound(_) => Failure::NotFound,
                RoutingError::Forbidden(_) => Failure::Forbidden,
                RoutingError::Conflict(_) => Failure::Conflict,
                RoutingError::Store(_) => Failure::Internal,
            },
            CoreError::Customer(e) => match e {
                CustomerError::NotFound(_) => Failure::NotFound,
                CustomerError::Identity(_)
                | CustomerError::SameCustomer(_)
                | CustomerError::NoIdentity => Failure::Invalid,
                CustomerError::Store(_) => Failure::Internal,
            },
            CoreError::Call(e) => match e {
                CallError::NotFound(_) | CallError::WrongKind { .. } => Failure::NotFound,
                CallError::Disabled(_)
                | CallError::Unconfigured { .. }
                | CallError::NotLoaded { .. }
                | CallError::CircuitOpen { .. }
                | CallError::Busy { .. } => Failure::PluginUnavailable,
                CallError::Fault { .. } => Failure::PluginFailed,
            },
            CoreError::Reload(e) => match e {
                ReloadError::NotFound(_) => Failure::NotFound,
                ReloadError::Disabled(_) => Failure::Conflict,
                ReloadError::Load(_) => Failure::LoadFailed,
                ReloadError::Storage(_) => Failure::Internal,
            },
            CoreError::Install(e) => match e {
                InstallError::Invalid(_) => Failure::InvalidBundle,
                InstallError::Io(_) => Failure::Internal,
            },
            CoreError::Canned(e) => match e {
                CannedError::Invalid(_) => Failure::Invalid,
                CannedError::Taken(_) => Failure::Conflict,
                CannedError::NotFound(_) => Failure::NotFound,
                CannedError::Store(_) => Failure::Internal,
            },
            CoreError::Attachment(e) => match e {
                BlobError::TooLarge { .. } => Failure::Unsupported,
                BlobError::Invalid(_) => Failure::Invalid,
                BlobError::Io(_) => Failure::Internal,
            },
            CoreError::Account(e) => match e {
                AccountError::Invalid(_) => Failure::Invalid,
                AccountError::Taken(_) => Failure::Conflict,
                AccountError::WrongPassword => Failure::Unauthenticated,
                AccountError::Random(_) | AccountError::Store(_) => Failure::Internal,
            },
            CoreError::Feed(e) => match e {
                crate::feeds::FeedError::Invalid(_) => Failure::Invalid,
                crate::feeds::FeedError::NotFound(_) => Failure::NotFound,
                crate::feeds::FeedError::Store(_) => Failure::Internal,
            },
            CoreError::Store(_) => Failure::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_and_customer_errors_keep_their_kind() {
        let cases = [
            (
                CoreError::from(RoutingError::Forbidden("not yours".into())),
                Failure::Forbidden,
            ),
            (
                CoreError::from(RoutingError::Conflict("wrong state".into())),
                Failure::Conflict,
            ),
            (CoreError::from(CustomerError::NoIdentity), Failure::Invalid),
            (
                CoreError::from(CustomerError::NotFound("cus_1".into())),
                Failure::NotFound,
            ),
            (
                CoreError::from(CallError::Disabled("x".into())),
                Failure::PluginUnavailable,
            ),
            (
                CoreError::Plugin {
                    kind: ErrorKind::Unauthorized,
                    message: "bad signature".into(),
                },
                Failure::PluginAnswered(ErrorKind::Unauthorized),
            ),
        ];
        for (error, failure) in cases {
            assert_eq!(error.failure(), failure, "{error}");
        }
    }
}
