//! Shared plumbing of the warts command-line tools: opening inputs (files, compressed files,
//! `-` / no argument for stdin) and running a per-record loop.
#![forbid(unsafe_code)]

pub mod descr;
pub mod dump;

use std::io::{self, Read, Write};

use scamper_warts::{decompress_reader, Record, WartsReader};

/// Output buffer size. Measured on ~50 MB of sc_warts2json output to an ext4 file: 128 KiB
/// writes cost the kernel ~30 % less system time than 32 KiB ones; larger buffers gain
/// little more and add to the RSS. Input needs none: `WartsReader` reads ahead.
const OUT_BUF: usize = 128 * 1024;

/// An input named on the command line; `-` is stdin.
pub fn open_input(name: &str) -> io::Result<WartsReader<Box<dyn Read + Send>>> {
    let r: Box<dyn Read + Send> = if name == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(std::fs::File::open(name)?)
    };
    Ok(WartsReader::new(decompress_reader(r)?))
}

/// Input names from the arguments: none means stdin.
pub fn inputs(args: &[String]) -> Vec<String> {
    if args.is_empty() {
        vec!["-".to_string()]
    } else {
        args.to_vec()
    }
}

/// What to do after a record has been handled.
pub enum Flow {
    Continue,
    /// Stop everything with this exit status.
    Exit(i32),
}

/// Read every input in turn, handing each record to `f`. A read error ends that input
/// (reported on stderr when `report` is set), like the C tools. Returns the exit status.
pub fn for_each_record(
    args: &[String],
    report: bool,
    mut f: impl FnMut(&Record, &mut dyn Write) -> io::Result<Flow>,
) -> i32 {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(OUT_BUF, stdout.lock());
    for name in inputs(args) {
        let rd = match open_input(&name) {
            Ok(r) => r,
            Err(e) => {
                let _ = out.flush();
                eprintln!("could not open {name}: {e}");
                return 255;
            }
        };
        for rec in rd {
            match rec {
                Ok(r) => match f(&r, &mut out) {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::Exit(code)) => {
                        let _ = out.flush();
                        return code;
                    }
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return 0,
                    Err(e) => {
                        eprintln!("write error: {e}");
                        return 255;
                    }
                },
                Err(e) => {
                    if report {
                        let _ = out.flush();
                        eprintln!("{name}: {e}");
                    }
                    break;
                }
            }
        }
    }
    match out.flush() {
        Ok(()) => 0,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(_) => 255,
    }
}

/// Handle `-?` / `-h`: print usage to stderr and tell the caller to exit.
pub fn wants_usage(args: &[String], usage: &str) -> bool {
    if args.iter().any(|a| a == "-?" || a == "-h" || a == "--help") {
        eprintln!("{usage}");
        return true;
    }
    false
}
