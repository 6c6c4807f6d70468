//! (being written)
#![forbid(unsafe_code)]
pub struct Rx;
