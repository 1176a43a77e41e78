//! `[consent]`: the keywords customers opt out and back in with on
//! messaging channels (SMS, WhatsApp), and what they are told.

use serde::{Deserialize, Serialize};

/// `[consent]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsentConfig {
    /// A message that is only one of these (any case, trailing punctuation
    /// ignored) opts the customer out of that channel.
    pub opt_out_keywords: Vec<String>,
    /// … and one of these opts her back in.
    pub opt_in_keywords: Vec<String>,
    /// Sent once when she opts out; empty: nothing is sent (the provider
    /// confirms, e.g. Twilio's Advanced Opt-Out).
    pub opt_out_reply: String,
    /// Sent once when she opts back in; empty: nothing is sent.
    pub opt_in_reply: String,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
        ConsentConfig {
            // The carriers' and Twilio's standard words, and Spanish ones.
            opt_out_keywords: words(&[
                "STOP",
                "STOPALL",
                "UNSUBSCRIBE",
                "CANCEL",
                "END",
                "QUIT",
                "OPTOUT",
                "BAJA",
                "ALTO",
            ]),
            opt_in_keywords: words(&["START", "UNSTOP", "YES", "ALTA"]),
            opt_out_reply: "You have been unsubscribed and will receive no more messages \
                            here. Reply START to resubscribe."
                .into(),
            opt_in_reply: "You have been resubscribed. Reply STOP to unsubscribe.".into(),
        }
    }
}
