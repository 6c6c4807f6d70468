//! sc_warts2text: print measurements of warts files as scamper's text output.

use std::process::ExitCode;

use scamper_tools::{for_each_record, wants_usage, Flow};

const USAGE: &str = "usage: sc_warts2text [-?] [<file 1, 2, .. N>]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if wants_usage(&args, USAGE) {
        return ExitCode::from(255);
    }
    let code = for_each_record(&args, false, |rec, out| {
        if let Some(s) = scamper_warts::text::to_text(rec) {
            out.write_all(s.as_bytes())?;
        }
        Ok(Flow::Continue)
    });
    ExitCode::from(code as u8)
}
