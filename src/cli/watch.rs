//! `maillogsentinel watch`: the signals and the configuration around [`crate::watch`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;

use super::scan::{Sources, error_code, print_findings, summary_counts};
use crate::config::Config;
use crate::scan::Summary;
use crate::watch::{Control, Observer};

/// Options of `watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// What to read, and where to.
    #[command(flatten)]
    pub sources: Sources,
}

/// Runs `watch` until SIGTERM or SIGINT and returns the exit code. SIGHUP reads the configuration
/// `config_file` again (the command line's options still win over it); a configuration that does
/// not load is reported and the running one kept.
pub fn run(args: WatchArgs, config: &Config, config_file: Option<PathBuf>) -> ExitCode {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let opts = args.sources.options(config);
    let interrupt = Arc::new(AtomicBool::new(false));
    let (control, controls) = crossbeam_channel::unbounded();
    let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("maillogsentinel: error: cannot handle signals: {e}");
            return ExitCode::from(super::EXIT_STORE);
        }
    };
    let flag = Arc::clone(&interrupt);
    let handle = signals.handle();
    let listener = std::thread::Builder::new().name("signals".into()).spawn(move || {
        for signal in signals.forever() {
            if signal == SIGHUP {
                match Config::load(config_file.as_deref()) {
                    Ok(config) => {
                        eprintln!("maillogsentinel: configuration read again");
                        let _ = control.send(Control::Reload(Box::new(args.sources.options(&config))));
                    }
                    Err(e) => eprintln!("maillogsentinel: error: {e}; the running configuration is kept"),
                }
            } else {
                flag.store(true, Ordering::Relaxed);
                let _ = control.send(Control::Stop);
                return;
            }
        }
    });
    if let Err(e) = listener {
        eprintln!("maillogsentinel: error: cannot handle signals: {e}");
        return ExitCode::from(super::EXIT_STORE);
    }
    let logs: Vec<String> = opts.logs.iter().map(|l| l.display().to_string()).collect();
    eprintln!(
        "maillogsentinel: watching {} (with rotated copies) into {}; SIGHUP reloads the configuration, SIGTERM stops",
        logs.join(", "),
        opts.data_dir.display()
    );
    let result = crate::watch::run(opts, &controls, &interrupt, &mut Printer);
    handle.close();
    match result {
        Ok(()) => {
            eprintln!("maillogsentinel: stopped; everything read is committed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("maillogsentinel: error: {e}");
            ExitCode::from(error_code(&e))
        }
    }
}

/// Tells on stderr (the service's journal) what each pass found.
struct Printer;

impl Observer for Printer {
    fn pass(&mut self, summary: &Summary) {
        print_findings(summary);
        if !summary.added.is_empty() {
            eprintln!("maillogsentinel: {}", summary_counts(summary));
        }
        if summary.alerts_queued > 0 {
            eprintln!("maillogsentinel: {} queued", super::scan::counted(summary.alerts_queued, "alert"));
        }
    }

    fn deliveries(&self) -> Box<dyn Fn(&crate::deliver::outbox::Round) + Send> {
        Box::new(|round| {
            for e in &round.errors {
                eprintln!("maillogsentinel: warning: {e}");
            }
            if round.sent > 0 {
                eprintln!("maillogsentinel: {} delivered", super::scan::counted(round.sent, "alert"));
            }
        })
    }

    fn shipping(&self) -> Box<dyn Fn(&str) + Send> {
        Box::new(|message: &str| eprintln!("maillogsentinel: warning: {message}"))
    }
}
