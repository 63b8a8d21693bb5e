//! Placeholder until the delivery of alerts lands (replaced by the webhook and email senders).

use crate::config::EmailConfig;
use crate::config::alerts::ChannelConfig;
use crate::model::alert::Alert;

/// How a delivery went.
#[derive(Debug)]
pub enum Outcome {
    /// Delivered.
    Delivered,
    /// Failed; try again (after `after`, when the receiver said).
    Retry {
        /// The receiver's `Retry-After`.
        after: Option<std::time::Duration>,
        /// What went wrong.
        error: String,
    },
    /// Refused; trying again as is will not help.
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// Sends `alert` through `channel`.
pub fn send(channel: &ChannelConfig, _email: &EmailConfig, _alert: &Alert) -> Outcome {
    Outcome::Failed { error: format!("channel {}: not built", channel.name) }
}
