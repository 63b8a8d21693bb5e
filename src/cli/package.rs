//! The files of the Debian package that are generated rather than kept in the repository: man
//! pages and completions ([`super::docs`]), the systemd units, filled from the templates `setup`
//! fills for the package's layout, and the packaged configuration. `scripts/build-deb.sh` runs
//! this through `examples/gen_package.rs`, then `cargo deb`, whose assets (Cargo.toml,
//! `[package.metadata.deb]`) are the files written here.

use std::path::{Path, PathBuf};

use super::setup;

/// Why the package's files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// A file or directory under the output directory.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The example configuration does not suit the package.
    #[error("maillogsentinel.example.toml, as packaged: {0}")]
    Config(String),
}

/// Writes into `out`: `man/*.1.gz` and `completions/` ([`super::docs::generate`]), `units/` (every
/// unit `setup` can write, for `/usr/lib/systemd/system`) and `maillogsentinel.toml` (for
/// `/etc/maillogsentinel/`).
pub fn generate(out: &Path) -> Result<(), PackageError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PackageError::Io { path, source }
    };
    super::docs::generate(out).map_err(io(out))?;
    let config = setup::package_config();
    let units = setup::package_units(&config).map_err(PackageError::Config)?;
    let unit_dir = out.join("units");
    std::fs::create_dir_all(&unit_dir).map_err(io(&unit_dir))?;
    for (name, text) in units {
        let path = unit_dir.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    let path = out.join("maillogsentinel.toml");
    std::fs::write(&path, config).map_err(io(&path))
}
