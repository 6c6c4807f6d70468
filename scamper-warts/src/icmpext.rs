//! ICMP extension objects (RFC 4884) attached to trace, tracelb and dealias replies.

/// One ICMP extension object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IcmpExt {
    pub class_num: u8,
    pub class_type: u8,
    pub data: Vec<u8>,
}

impl IcmpExt {
    /// Class 1 type 1 is an MPLS label stack.
    pub fn is_mpls(&self) -> bool {
        self.class_num == 1 && self.class_type == 1
    }
}
