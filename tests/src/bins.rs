//! Finding the binaries under test.

use std::path::{Path, PathBuf};

/// The workspace root (parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Directory holding the built tools: `$SCRS_BIN_DIR` if set, else `<workspace>/target/release`.
pub fn bin_dir() -> PathBuf {
    match std::env::var_os("SCRS_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => workspace_root().join("target").join("release"),
    }
}

/// Path of the release build of tool `name` (scamper, sc_warts2json, ...), or an error telling
/// how to build it.
pub fn try_tool_bin(name: &str) -> Result<PathBuf, String> {
    let p = bin_dir().join(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "{} does not exist: run `cargo build --release` in {} first \
             (or point SCRS_BIN_DIR at the directory holding `{name}`)",
            p.display(),
            workspace_root().display()
        ))
    }
}

/// Like [`try_tool_bin`], but panics with that message: for use at the top of a test.
pub fn tool_bin(name: &str) -> PathBuf {
    try_tool_bin(name).unwrap_or_else(|e| panic!("{e}"))
}

/// `<workspace>/target/release/scamper`; panics with how to build it if missing.
pub fn scamper_bin() -> PathBuf {
    tool_bin("scamper")
}
