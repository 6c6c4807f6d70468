//! (being written)
#![forbid(unsafe_code)]
pub enum Record {}
