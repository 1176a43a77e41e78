//! Email channel (work in progress).

use switchboard_sdk::{
    Channel, ChannelInfo, ChannelKind, Delivery, DeliveryError, HttpRequest, OutboundAction,
    PluginError, WebhookOutcome,
};

struct Plugin;

impl Channel for Plugin {
    fn describe() -> ChannelInfo {
        ChannelInfo {
            kind: ChannelKind::Email,
            display_name: "Email".into(),
            supports_attachments: false,
        }
    }

    fn handle_webhook(_request: HttpRequest) -> Result<WebhookOutcome, PluginError> {
        Err(PluginError::not_found("not implemented yet"))
    }

    fn deliver(_action: OutboundAction) -> Result<Delivery, DeliveryError> {
        Err(DeliveryError::permanent("not implemented yet"))
    }
}

switchboard_sdk::register_channel!(Plugin);
