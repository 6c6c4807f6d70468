//! sc_wartscat: concatenate warts files into one (list and cycle ids renumbered).
//! The output format follows the output file name (.warts.gz/.bz2/.xz compress).

use std::process::ExitCode;

use scamper_tools::open_input;
use scamper_warts::{OutputFormat, RecordWriter};

const USAGE: &str = "usage: sc_wartscat [-?] -o <outfile> <infile 1, 2, .. N>";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut outfile = None;
    let mut inputs = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "-?" | "-h" | "--help" => {
                eprintln!("{USAGE}");
                return ExitCode::from(255);
            }
            "-o" => outfile = args.next(),
            s if s.starts_with("-o") && s.len() > 2 => outfile = Some(s[2..].to_string()),
            _ => inputs.push(a),
        }
    }
    let (Some(outfile), false) = (outfile, inputs.is_empty()) else {
        eprintln!("{USAGE}");
        return ExitCode::from(255);
    };
    let fmt = match OutputFormat::from_path_suffix(&outfile) {
        f if f.is_warts() => f,
        _ => OutputFormat::Warts,
    };
    let sink: Box<dyn std::io::Write + Send> = if outfile == "-" {
        Box::new(std::io::stdout())
    } else {
        match std::fs::File::create(&outfile) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("could not open {outfile}: {e}");
                return ExitCode::from(255);
            }
        }
    };
    let mut w = match RecordWriter::new(fmt, sink) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(255);
        }
    };
    for name in &inputs {
        let rd = match open_input(name) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("could not open {name}: {e}");
                return ExitCode::from(255);
            }
        };
        for rec in rd {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{name}: {e}");
                    break;
                }
            };
            if let Err(e) = w.write(&rec) {
                eprintln!("could not write {outfile}: {e}");
                return ExitCode::from(255);
            }
        }
    }
    match w.finish() {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("could not write {outfile}: {e}");
            ExitCode::from(255)
        }
    }
}
