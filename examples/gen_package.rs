//! Generates the files of the Debian package that are not kept in the repository
//! ([`maillogsentinel::cli::package`]) and its `changelog` (Debian's format, one entry for this
//! version), for `cargo deb`; run by `scripts/build-deb.sh`:
//!
//! ```sh
//! cargo run --example gen_package -- OUT_DIR
//! ```
//!
//! The changelog's maintainer is the package's (`[package.metadata.deb] maintainer`), its date is `$SOURCE_DATE_EPOCH` (the last commit's time, set by the script), so
//! that two builds of one commit give the same package.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next().map(PathBuf::from), args.next()) else {
        eprintln!("usage: gen_package OUT_DIR");
        return ExitCode::from(2);
    };
    if let Err(e) = maillogsentinel::cli::package::generate(&out) {
        eprintln!("gen_package: {e}");
        return ExitCode::FAILURE;
    }
    let manifest = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).parse::<toml::Table>();
    let maintainer = manifest.ok().and_then(|m| {
        let deb = m.get("package")?.get("metadata")?.get("deb")?;
        deb.get("maintainer")?.as_str().map(str::to_string)
    });
    let Some(maintainer) = maintainer else {
        eprintln!("gen_package: Cargo.toml has no [package.metadata.deb] maintainer");
        return ExitCode::FAILURE;
    };
    let when = match std::env::var("SOURCE_DATE_EPOCH").ok().map(|s| s.parse::<i64>()) {
        None => jiff::Timestamp::now(),
        Some(Ok(secs)) => match jiff::Timestamp::from_second(secs) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("gen_package: SOURCE_DATE_EPOCH: {e}");
                return ExitCode::from(2);
            }
        },
        Some(Err(e)) => {
            eprintln!("gen_package: SOURCE_DATE_EPOCH: {e}");
            return ExitCode::from(2);
        }
    };
    // Debian's form of RFC 2822: a two-digit day.
    let date = when.to_zoned_datetime(jiff::tz::TimeZone::UTC).strftime("%a, %d %b %Y %H:%M:%S %z").to_string();
    // The Debian revision is cargo-deb's default, "-1"; the history itself is the git log.
    let changelog = format!(
        "maillogsentinel ({}-1) unstable; urgency=medium\n\n  * Package of MailLogSentinel {}; the changes are in \
         its git history.\n\n -- {maintainer}  {date}\n",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_VERSION")
    );
    let path = out.join("changelog");
    if let Err(e) = std::fs::write(&path, changelog) {
        eprintln!("gen_package: {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
