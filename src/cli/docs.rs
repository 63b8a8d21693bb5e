//! Man pages and shell completions, generated from the command line definition so that they never
//! disagree with `--help` (run by `scripts/gen-docs.sh` through `examples/gen_docs.rs`; nothing
//! generated is checked in).

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

/// Writes `out/man/maillogsentinel.1.gz` and a page per command (`maillogsentinel-scan.1.gz`, ...,
/// gzipped as Debian installs them), and `out/completions/` for bash, zsh and fish.
pub fn generate(out: &Path) -> std::io::Result<()> {
    let mut command = super::Cli::command();
    command.build();
    let man = out.join("man");
    std::fs::create_dir_all(&man)?;
    // One page per command, named after its full invocation (`maillogsentinel-scan.1`), as git's.
    clap_mangen::generate_to(command.clone(), &man)?;
    for entry in std::fs::read_dir(&man)? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !name.ends_with(".1") {
            continue;
        }
        // clap's `help` commands only print other pages' text.
        if name.contains("-help") {
            std::fs::remove_file(&path)?;
        } else {
            gzip(&path)?;
        }
    }
    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut command, "maillogsentinel", &completions)?;
    }
    Ok(())
}

/// Replaces `path` by `path.gz`.
fn gzip(path: &Path) -> std::io::Result<()> {
    let page = std::fs::read(path)?;
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&name)?, flate2::Compression::best());
    gz.write_all(&page)?;
    gz.finish()?.sync_all()?;
    std::fs::remove_file(path)
}
