//! sc_warts2text: print measurements of warts files as scamper's text output.
//!
//! `-d file` names a file of `<address> "<description>"` lines; a measurement whose destination
//! has a description gets it on a line of its own before its text. (The C tool prints these
//! lines through stdio and closes stdout's descriptor before the final flush, so it loses them
//! unless stdout is a terminal; here they always come out, in order.)

use std::process::ExitCode;

use scamper_tools::descr::Descriptions;
use scamper_tools::{for_each_record, wants_usage, Flow};

const USAGE: &str = "usage: sc_warts2text [-?] [-d ip2descr-file] [<file 1, 2, .. N>]";

/// `-d` (value attached or in the next argument), `--` and the input names.
fn parse_args(args: &[String]) -> Result<(Option<String>, Vec<String>), String> {
    let mut descr = None;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if a == "-" || !a.starts_with('-') {
            break;
        }
        match a.strip_prefix("-d") {
            Some("") => {
                i += 1;
                let v = args
                    .get(i)
                    .ok_or("option requires an argument -- 'd'".to_string())?;
                descr = Some(v.clone());
            }
            Some(v) => descr = Some(v.to_string()),
            None => {
                let c = a.chars().nth(1).unwrap_or('-');
                return Err(format!("invalid option -- '{c}'"));
            }
        }
        i += 1;
    }
    Ok((descr, args[i..].to_vec()))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if wants_usage(&args, USAGE) {
        return ExitCode::from(255);
    }
    let (descr_file, files) = match parse_args(&args) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("sc_warts2text: {e}");
            return ExitCode::from(255);
        }
    };
    let descr = match descr_file {
        None => Descriptions::default(),
        Some(path) => {
            // an unreadable file ends the tool silently, as in C
            let Ok(bytes) = std::fs::read(&path) else {
                return ExitCode::from(255);
            };
            match Descriptions::parse(&bytes) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(255);
                }
            }
        }
    };
    let code = for_each_record(&files, false, |rec, out| {
        if let Some(d) = scamper_warts::text::text_dst(rec).and_then(|a| descr.get(&a)) {
            writeln!(out, "{d}")?;
        }
        if let Some(s) = scamper_warts::text::to_text(rec) {
            out.write_all(s.as_bytes())?;
        }
        Ok(Flow::Continue)
    });
    ExitCode::from(code as u8)
}
