//! Postfix smtpd messages: SASL failures and authenticated submissions.
