//! Dovecot messages: login-process summaries, auth and auth-worker passdb results, PAM.
