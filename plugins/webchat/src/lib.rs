//! Web chat channel (work in progress).

use switchboard_sdk::{
    Channel, ChannelInfo, ChannelKind, Delivery, DeliveryError, HttpRequest, OutboundAction,
    PluginError, WebhookOutcome,
};

struct Plugin;

impl Channel for Plugin {
    fn describe() -> ChannelInfo {
        ChannelInfo {
            kind: ChannelKind::Chat,
            display_name: "Web chat".into(),
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
