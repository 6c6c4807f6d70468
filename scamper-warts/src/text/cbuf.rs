//! A fixed-size text buffer with the truncation rules of scamper's string helpers, so that the
//! text renderings cut over-long output at the same byte the C tool does.
//!
//! The C buffer has `size` bytes including the terminating NUL; appends copy what fits and
//! silently drop the rest. The write offset normally equals the text length, except that a
//! formatted append (`string_concaf`, vsnprintf) that does not fit moves the offset one past
//! the text, onto the NUL; some writers then emit `offset` bytes.

use std::fmt;

pub(crate) struct CBuf {
    text: Vec<u8>,
    off: usize,
    size: usize,
}

impl CBuf {
    /// A buffer of `size` bytes (at most `size - 1` of text).
    pub(crate) fn new(size: usize) -> Self {
        CBuf {
            text: Vec::new(),
            off: 0,
            size,
        }
    }

    /// Bytes left for appending, counting the NUL's byte (C `len - off`), or `None` when the
    /// buffer takes nothing more.
    fn left(&self) -> Option<usize> {
        match self.size.checked_sub(self.off) {
            Some(0) | None => None,
            l => l,
        }
    }

    /// Append a string, truncated to what fits (`string_concat`, `string_concatc`,
    /// `string_concat_u*`).
    pub(crate) fn push(&mut self, s: &str) {
        let Some(left) = self.left() else { return };
        let cp = s.len().min(left - 1);
        self.text.extend_from_slice(&s.as_bytes()[..cp]);
        self.off += cp;
    }

    /// Append formatted text (`string_concaf`): when it does not fit the text is cut to the
    /// buffer and the offset ends one past it.
    pub(crate) fn pushf(&mut self, args: fmt::Arguments<'_>) {
        let Some(left) = self.left() else { return };
        let s = fmt::format(args);
        let cp = s.len().min(left - 1);
        self.text.extend_from_slice(&s.as_bytes()[..cp]);
        self.off += s.len().min(left);
    }

    /// The text so far.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    /// The first `off` bytes of the buffer (the text, then the NUL when the offset passed it).
    pub(crate) fn through_offset(&self) -> Vec<u8> {
        let mut v = self.text.clone();
        v.resize(self.off, 0);
        v
    }
}

impl fmt::Write for CBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s);
        Ok(())
    }
}

/// Bytes to `String`; the renderings only produce ASCII except for strings taken from the
/// record, and a cut inside a multi-byte character keeps its valid prefix.
pub(crate) fn into_string(b: Vec<u8>) -> String {
    match String::from_utf8(b) {
        Ok(s) => s,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let mut b = e.into_bytes();
            b.truncate(valid);
            String::from_utf8(b).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_truncate_like_string_concat() {
        let mut b = CBuf::new(6);
        b.push("abc");
        b.push("defg");
        assert_eq!(b.as_bytes(), b"abcde");
        b.push("x");
        assert_eq!(b.as_bytes(), b"abcde");
        assert_eq!(b.through_offset(), b"abcde");
    }

    #[test]
    fn formatted_overflow_moves_the_offset_onto_the_nul() {
        let mut b = CBuf::new(6);
        b.pushf(format_args!("{}", 1234567));
        assert_eq!(b.as_bytes(), b"12345");
        assert_eq!(b.through_offset(), b"12345\0");
        b.push("z");
        b.pushf(format_args!("z"));
        assert_eq!(b.as_bytes(), b"12345");
    }
}
