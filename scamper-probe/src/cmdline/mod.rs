//! What every measurement command line (`ping ...`, `trace ...`) shares: the getopt-style word
//! scanner ([`Scanner`]) and the parsers of option values ([`num`], [`seconds`], [`hex`],
//! [`addr`]). Each measurement keeps its own option letters, `match` arms and error enum; it
//! converts [`ScanError`] and [`ValueError`] into that enum, whose texts match these.

mod scan;
mod values;

pub use scan::{Arg, OptionSpec, ScanError, Scanner};
pub use values::{addr, hex, num, seconds, time, TimeUnit, ValueError};
