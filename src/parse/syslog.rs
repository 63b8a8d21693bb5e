//! The syslog header: timestamp, host and tag, in every form mail servers write them.
