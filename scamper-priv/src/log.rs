//! The helper logs through the same sinks as the prober.
pub use scamper_probe::log::{error, info, warn};
