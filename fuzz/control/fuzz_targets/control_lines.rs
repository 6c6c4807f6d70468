//! Control-socket clients are untrusted: arbitrary bytes through the line reader and both
//! parsers (interactive and attached mode) give typed requests or `ERR` replies, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scamper_probe::control::protocol::{parse_attached, parse_interactive, LineReader};

fuzz_target!(|data: &[u8]| {
    let mut lines = LineReader::new();
    lines.push(data);
    while let Some(line) = lines.next_line() {
        match line {
            Ok(l) => {
                let _ = parse_interactive(&l);
                let _ = parse_attached(&l);
            }
            Err(e) => {
                let _ = e.reply().line();
            }
        }
    }
});
