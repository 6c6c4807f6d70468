//! Turning the bytes of the `-g` config file and the `-O dnp=` files into the sets the engine
//! uses, at start-up and on SIGHUP. A reload either succeeds whole or changes nothing.

use crate::config_file::Config;
use crate::dnp::DoNotProbe;

pub fn parse_config(bytes: &[u8]) -> Result<Config, String> {
    Config::parse_bytes(bytes).map_err(|e| e.to_string())
}

/// Parse every do-not-probe file (name, contents) into one set.
pub fn parse_dnp(files: &[(String, Vec<u8>)]) -> Result<DoNotProbe, String> {
    let mut sets = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        sets.push(DoNotProbe::parse_bytes(bytes, name).map_err(|e| e.to_string())?);
    }
    Ok(DoNotProbe::merge(sets.iter()))
}
