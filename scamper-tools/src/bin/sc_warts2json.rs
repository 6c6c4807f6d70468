//! sc_warts2json: print each measurement of warts files as one JSON object per line.

use std::process::ExitCode;

use scamper_tools::{for_each_record, wants_usage, Flow};

const USAGE: &str = "usage: sc_warts2json [-?] [<file 1, 2, .. N>]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if wants_usage(&args, USAGE) {
        return ExitCode::from(255);
    }
    // one line buffer for the whole run: no allocation per record
    let mut line = Vec::with_capacity(4096);
    let code = for_each_record(&args, false, |rec, out| {
        line.clear();
        match scamper_warts::json::write_json(rec, &mut line) {
            Ok(true) => {
                line.push(b'\n');
                out.write_all(&line)?;
                Ok(Flow::Continue)
            }
            Ok(false) => Ok(Flow::Continue),
            // no renderer for this object: the C tool exits with -1
            Err(_) => Ok(Flow::Exit(255)),
        }
    });
    ExitCode::from(code as u8)
}
