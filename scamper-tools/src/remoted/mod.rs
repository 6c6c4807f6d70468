//! sc_remoted: the controller end of scamper's `-R` remote control (remote.md).
//! Sans-IO protocol pieces (`master`, `mux`, `meta`, `opts`) and the tokio driver (`hub`).

pub mod hub;
pub mod master;
pub mod meta;
pub mod mux;
pub mod opts;

#[cfg(test)]
mod tests;
