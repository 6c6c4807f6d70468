//! The trace measurement: classic and Paris traceroute with UDP, ICMP echo or TCP probes.
//!
//! How the engine runs a trace from a command line:
//!
//! ```text
//! let opts = trace::parse(&words[1..])?;        // words after "trace" -> Command::Trace(opts)
//! // check opts.dst() against the do-not-probe list, pick the source address (opts.src), then
//! let task: Box<dyn Task> = trace::new_task(opts, env);
//! ```
//!
//! - [`confidence`]: the `-c` rule for how many probes a hop needs.
//! - [`dtree`]: doubletree stop sets (`-z`, `-Z`, `-O dtree-noback`).
//! - [`options`]: parsing and validating the TRACE OPTIONS of the manual.
//! - [`pmtud`]: path-MTU discovery after the trace (`-M`).
//! - [`probe`]: the per-probe header values that let replies name their probe, and the packets.
//! - [`task`]: the sans-IO state machine (hop-by-hop schedule, reply matching, stop reasons,
//!   the warts record).

pub mod confidence;
pub mod dtree;
pub mod options;
pub mod pmtud;
pub mod probe;
pub mod task;

pub use options::{parse, TraceOptions, TraceOptionsError};
pub use task::{new_task, TraceTask};
