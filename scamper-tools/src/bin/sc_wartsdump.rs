//! sc_wartsdump: print every object of warts files in a verbose human-readable form.

use std::process::ExitCode;

use scamper_tools::{dump, for_each_record, wants_usage, Flow};

const USAGE: &str = "usage: sc_wartsdump [-?] [<file 1, 2, .. N>]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if wants_usage(&args, USAGE) {
        return ExitCode::from(255);
    }
    let code = for_each_record(&args, true, |rec, out| {
        out.write_all(dump::dump(rec).as_bytes())?;
        Ok(Flow::Continue)
    });
    ExitCode::from(code as u8)
}
