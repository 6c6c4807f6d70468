//! System tests of scamper-rs, and the network-namespace lab they run on.
//!
//! [`Lab::build`] creates a set of network namespaces joined by veth pairs (plus one delayed
//! TUN link), all addressed from documentation ranges only, and removes them again when the
//! [`Lab`] is dropped. The lab needs root; tests call [`Lab::require_root`] first.
//!
//! ```text
//!                                    +-- b1 --+
//!  vp -- r1 -- ... -- rN (ECMP split)-+-- b2 --+-- j -- tgt   (host, AnyIP, TCP listener)
//!                      |              +-- .. --+
//!                      +== delayed TUN link ==> dly         (host, TCP listener)
//! ```
//!
//! Addressing: link number L (in creation order, vp–r1 is 0) is 192.0.2.8L/29 and
//! 2001:db8:0:L::/64; the end nearer the vp has .8L+1 / ::1, the other .8L+2 / ::2. Hosts are
//! on loopbacks: target 198.51.100.1 and 2001:db8:1::1, delay target 203.0.113.1 and
//! 2001:db8:2::1; the target also answers for all of 198.18.0.0/15 and 2001:db8:100::/48.
//! Every node has specific routes to every lab prefix and no default route.
//!
//! Routing is single-path except at the split router rN, which spreads flows over the branches
//! with an L4 hash (nexthop group). Every router returns traffic to the vp over its first path
//! (j via b1), so ICMP errors always come from the router's vp-facing address ([`Lab::addr`]).
#![forbid(unsafe_code)]

mod bins;
mod lab;

pub use bins::{bin_dir, scamper_bin, tool_bin, try_tool_bin, workspace_root};
pub use lab::{
    anyip_addr, in_netns, lab_namespaces, run_with_timeout, Family, IfStats, Lab, LabChild,
    LabError, LabSpec, Result, Role, ANYIP_V4, ANYIP_V6, DELAY_TARGET_V4, DELAY_TARGET_V6,
    EXEC_TIMEOUT, NS_PREFIX, TARGET_V4, TARGET_V6, TCP_CLOSED_PORT, TCP_OPEN_PORT, UDP_CLOSED_PORT,
    VP_V4, VP_V6,
};
