//! The `maillogsentinel` binary: everything lives in the library; this installs the process-wide
//! signal handling the library must not install by itself, then maps the outcome to an exit code.

// The binary links the library's dependencies but calls only the library.
#![allow(unused_crate_dependencies)]

fn main() -> std::process::ExitCode {
    // Plain logs are read through memory maps only once the SIGBUS guard is in place: a log
    // truncated under its map (logrotate's `copytruncate`) then reads as zeros that the scan
    // notices, instead of killing the process. Should the handler not install (it does unless
    // `sigaction` itself fails), plain files are read instead of mapped: slower, same results.
    let _ = maillogsentinel::source::guard::install();
    maillogsentinel::cli::main()
}
