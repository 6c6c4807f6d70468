//! Link-time choices that make `scamper` cheaper to start (each run execs it once, and short runs
//! are dominated by that). Both are skipped, leaving the default link, where the toolchain does
//! not offer them.
//!
//! * The unwinder (`_Unwind_*`, needed by panic=unwind) comes from the static libgcc_eh instead
//!   of libgcc_s.so.1, as rustc does for crt-static builds: one shared object fewer to open, map
//!   and relocate, and libgcc_s's constructor (dozens of CPUID instructions, each a trap under a
//!   hypervisor) no longer runs.
//! * Relative relocations are packed (`-z pack-relative-relocs`, DT_RELR, glibc 2.36+): the
//!   loader reads ~2 KB instead of ~170 KB of relocation records, which also keeps those pages
//!   out of the resident set.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    println!("cargo:rerun-if-env-changed=SCAMPER_DEFAULT_LINK");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || var("CARGO_CFG_TARGET_FEATURE")
            .split(',')
            .any(|f| f == "crt-static")
        || std::env::var_os("SCAMPER_DEFAULT_LINK").is_some()
    {
        return;
    }
    let out = PathBuf::from(var("OUT_DIR"));
    // The C compiler driver rustc links with, unless configured otherwise.
    let cc = std::env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".to_string());

    if let Some(eh) = libgcc_eh(&cc) {
        // rustc asks for -lgcc_s; this directory comes first in the search path, and the file
        // found there is a linker script naming the static archive instead.
        let script = format!("INPUT({})\n", eh.display());
        if std::fs::write(out.join("libgcc_s.so"), script).is_ok() {
            println!("cargo:rustc-link-search=native={}", out.display());
        }
    }
    if links_with(&cc, &out, "-Wl,-z,pack-relative-relocs") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// The absolute path of libgcc_eh.a as the compiler driver finds it, if it exists.
fn libgcc_eh(cc: &str) -> Option<PathBuf> {
    let out = Command::new(cc)
        .arg("-print-file-name=libgcc_eh.a")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // An unknown file is echoed back as a bare name.
    (out.status.success() && path.is_absolute() && path.is_file()).then_some(path)
}

/// Whether a trivial C program links with `flag` without warnings (an old linker ignores an
/// unknown -z option with a warning; an old glibc lacks the DT_RELR version).
fn links_with(cc: &str, out: &Path, flag: &str) -> bool {
    let src = out.join("probe.c");
    if std::fs::write(&src, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    Command::new(cc)
        .arg(&src)
        .arg("-o")
        .arg(out.join("probe"))
        .arg(flag)
        .arg("-Wl,--fatal-warnings")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
