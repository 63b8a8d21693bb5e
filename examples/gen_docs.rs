//! Generates the man pages and shell completions of `maillogsentinel` ([`maillogsentinel::cli::docs`]):
//!
//! ```sh
//! cargo run --example gen_docs -- OUT_DIR     # or: bash scripts/gen-docs.sh
//! ```

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

fn main() -> std::process::ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: gen_docs OUT_DIR");
        return std::process::ExitCode::from(2);
    };
    match maillogsentinel::cli::docs::generate(&out) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_docs: {}: {e}", out.display());
            std::process::ExitCode::FAILURE
        }
    }
}
