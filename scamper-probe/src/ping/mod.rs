//! The ping measurement: delay probing with ICMP, UDP or TCP probes.
//!
//! How the engine runs a ping from a command line:
//!
//! ```text
//! let cmd = command::parse("ping -c 3 -P udp-dport 192.0.2.1")?;   // Command::Ping(opts)
//! // check cmd.dsts() against the do-not-probe list, pick the source address, then
//! let task: Box<dyn Task> = ping::new_task(opts, env);
//! ```
//!
//! - [`options`]: parsing and validating the PING OPTIONS of the manual.
//! - [`probe`]: building the probe packets.
//! - [`ptb`]: the packet-too-big that `-M` sends for replies above the pseudo MTU.
//! - [`task`]: the sans-IO state machine (sending schedule, reply matching, the warts record).

pub mod options;
pub mod probe;
pub mod ptb;
pub mod task;

pub use options::{PingOptions, PingOptionsError, TimestampOption};
pub use task::{new_task, PingTask};
