//! Delivery through the local MTA's `sendmail` binary (`sendmail -i -f FROM -- TO...`).

use lettre::{Message, SendmailTransport, Transport};

use super::DeliverError;
use crate::config::EmailConfig;

/// Pipes `message` to `sendmail_path`.
pub fn send(cfg: &EmailConfig, message: &Message) -> Result<(), DeliverError> {
    let path = cfg.sendmail_path.display().to_string();
    if !cfg.sendmail_path.exists() {
        return Err(DeliverError::Sendmail {
            path,
            message: "no such file; install an MTA, set email.sendmail_path, or use transport = \"smtp\"".into(),
        });
    }
    SendmailTransport::new_with_command(&cfg.sendmail_path)
        .send(message)
        .map_err(|e| DeliverError::Sendmail { path, message: e.to_string() })
}
