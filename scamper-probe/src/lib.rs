//! The scamper measurement engine. It runs in the unprivileged, chrooted prober process and
//! gets every privileged resource (raw sockets, files) from the root helper over IPC.
#![forbid(unsafe_code)]

pub mod command;
pub mod config_file;
pub mod dnp;
pub mod input;
pub mod options;
pub mod ping;
pub mod task;
