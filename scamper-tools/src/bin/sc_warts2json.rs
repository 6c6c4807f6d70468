//! sc_warts2json: print each measurement of warts files as one JSON object per line.

use std::process::ExitCode;

use scamper_tools::{for_each_record, wants_usage, Flow};

const USAGE: &str = "usage: sc_warts2json [-?] [<file 1, 2, .. N>]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if wants_usage(&args, USAGE) {
        return ExitCode::from(255);
    }
    let code = for_each_record(
        &args,
        false,
        |rec, out| match scamper_warts::json::to_json(rec) {
            Ok(Some(line)) => {
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
                Ok(Flow::Continue)
            }
            Ok(None) => Ok(Flow::Continue),
            // no renderer for this object: the C tool exits with -1
            Err(_) => Ok(Flow::Exit(255)),
        },
    );
    ExitCode::from(code as u8)
}
