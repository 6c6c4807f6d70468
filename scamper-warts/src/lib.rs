//! Reading and writing warts(5), and the JSON (`sc_warts2json`) and text renderings of
//! scamper measurements.
#![forbid(unsafe_code)]

pub mod addr;
pub mod compress;
pub mod dealias;
pub mod error;
pub mod host;
pub mod http;
pub mod icmpext;
pub mod json;
pub mod list;
pub mod neighbourdisc;
pub mod output;
pub mod owamp;
pub mod ping;
pub mod record;
pub mod sniff;
pub mod sting;
pub mod tbit;
pub mod text;
pub mod timeval;
pub mod trace;
pub mod tracelb;
pub mod udpprobe;
pub mod warts;
mod wire;

pub use addr::Addr;
pub use compress::{decompress_reader, Compression};

/// A code's name, or its number when this reader has no name for it (a method, result or
/// stop reason newer than the reader), as the C tools print unknown codes.
pub fn code_label(name: Option<&'static str>, code: impl std::fmt::Display) -> String {
    name.map_or_else(|| code.to_string(), str::to_string)
}
pub use error::{Error, Result};
pub use list::{Cycle, List};
pub use output::{OutputFormat, RecordWriter};
pub use record::Record;
pub use timeval::Timeval;
pub use warts::{TypeFilter, WartsReader, WartsWriter};

/// Open a warts file (plain or compressed, detected by magic) for streaming reads.
pub fn open_file(
    path: impl AsRef<std::path::Path>,
) -> Result<WartsReader<Box<dyn std::io::Read + Send>>> {
    let f = std::fs::File::open(path)?;
    let r = decompress_reader(std::io::BufReader::new(f))?;
    Ok(WartsReader::new(r))
}
