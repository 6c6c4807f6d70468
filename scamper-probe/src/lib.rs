//! The scamper measurement engine. It runs in the unprivileged, chrooted prober process and
//! gets every privileged resource (raw sockets, files) from the root helper over IPC.
#![forbid(unsafe_code)]

pub mod cmdline;
pub mod command;
pub mod config_file;
pub mod control;
pub mod dnp;
pub mod dns;
pub mod engine;
pub mod helper_link;
pub mod input;
pub mod log;
pub mod options;
pub mod ping;
pub mod reload;
pub mod remote;
pub mod sandbox;
pub mod task;
pub mod trace;
