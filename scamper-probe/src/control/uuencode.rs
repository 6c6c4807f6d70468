//! The uuencoding that carries warts objects in `DATA` blocks of the control socket
//! (control.md §5, warts.md §17): traditional uuencode body lines, no `begin`/`end` lines, a zero
//! 6-bit value written as `` ` `` rather than space, and a `` `\n `` terminator line.

use thiserror::Error;

/// Input bytes per full encoded line (length character `M`).
const LINE_BYTES: usize = 45;

/// One 6-bit value as a character; zero is a backtick so no line carries a space.
fn enc(v: u8) -> u8 {
    match v & 0x3f {
        0 => b'`',
        v => v + 32,
    }
}

/// The encoded size of an object of `n` bytes, terminator line included (the `<len>` of
/// `DATA <len>`).
pub fn encoded_len(n: usize) -> usize {
    let r = n % LINE_BYTES;
    let partial = if r > 0 { 2 + 4 * r.div_ceil(3) } else { 0 };
    62 * (n / LINE_BYTES) + partial + 2
}

/// Encodes one complete object; the result always ends with the terminator line `` `\n ``.
pub fn uuencode(obj: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(obj.len()));
    for line in obj.chunks(LINE_BYTES) {
        // chunks() never yields more than 45 bytes, so this fits in one character.
        out.push(32 + line.len() as u8);
        for group in line.chunks(3) {
            let a = group[0];
            let b = group.get(1).copied().unwrap_or(0);
            let c = group.get(2).copied().unwrap_or(0);
            out.extend_from_slice(&[
                enc(a >> 2),
                enc((a << 4) | (b >> 4)),
                enc((b << 2) | (c >> 6)),
                enc(c),
            ]);
        }
        out.push(b'\n');
    }
    out.extend_from_slice(b"`\n");
    out
}

/// Why a `DATA` body could not be decoded. Line numbers count from 1 within the body.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UuError {
    #[error("uudecode line {line}: empty line")]
    EmptyLine { line: usize },
    #[error("uudecode line {line}: invalid character 0x{byte:02x} at offset {offset}")]
    BadCharacter {
        line: usize,
        offset: usize,
        byte: u8,
    },
    #[error(
        "uudecode line {line}: length character says {count} bytes, line has {chars} characters"
    )]
    BadLength {
        line: usize,
        count: usize,
        chars: usize,
    },
    #[error("uudecode line {line}: data after the terminator line")]
    AfterEnd { line: usize },
    #[error("uudecode: missing terminator line")]
    MissingTerminator,
}

/// What one pushed line was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UuLine {
    /// A data line that decoded to this many bytes.
    Data(usize),
    /// The terminator line: the object is complete.
    End,
}

/// Decodes the body lines of one `DATA` block, line by line, as a client receives them.
#[derive(Debug, Default, Clone)]
pub struct UuDecoder {
    out: Vec<u8>,
    lines: usize,
    done: bool,
}

/// Maps one encoded character to its 6-bit value; decoders accept `!`..`` ` `` only.
fn dec(byte: u8) -> Option<u8> {
    (0x21..=0x60).contains(&byte).then(|| (byte - 32) & 0x3f)
}

impl UuDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one body line, without its `\n` (a trailing `\r` is not accepted).
    pub fn push_line(&mut self, line: &[u8]) -> Result<UuLine, UuError> {
        self.lines += 1;
        let lineno = self.lines;
        if self.done {
            return Err(UuError::AfterEnd { line: lineno });
        }
        let (&first, rest) = line
            .split_first()
            .ok_or(UuError::EmptyLine { line: lineno })?;
        let count = usize::from(dec(first).ok_or(UuError::BadCharacter {
            line: lineno,
            offset: 0,
            byte: first,
        })?);
        if count == 0 {
            // A line starting with a backtick is the terminator, whatever follows.
            self.done = true;
            return Ok(UuLine::End);
        }
        let chars = 4 * count.div_ceil(3);
        if rest.len() != chars {
            return Err(UuError::BadLength {
                line: lineno,
                count,
                chars: rest.len(),
            });
        }
        let start = self.out.len();
        for (g, group) in rest.chunks(4).enumerate() {
            let mut v = [0u8; 4];
            for (i, &byte) in group.iter().enumerate() {
                v[i] = dec(byte).ok_or(UuError::BadCharacter {
                    line: lineno,
                    offset: 1 + 4 * g + i,
                    byte,
                })?;
            }
            self.out.extend_from_slice(&[
                (v[0] << 2) | (v[1] >> 4),
                (v[1] << 4) | (v[2] >> 2),
                (v[2] << 6) | v[3],
            ]);
        }
        // The last group was padded to 3 bytes; the length character gives the true count.
        self.out.truncate(start + count);
        Ok(UuLine::Data(count))
    }

    /// True once the terminator line has been seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The decoded object; an error if the terminator line has not been seen.
    pub fn finish(self) -> Result<Vec<u8>, UuError> {
        if self.done {
            Ok(self.out)
        } else {
            Err(UuError::MissingTerminator)
        }
    }
}

/// Decodes a whole `DATA` body (the `<len>` bytes after the `DATA` line): every line must end
/// with `\n` and the last one must be the terminator.
pub fn uudecode(body: &[u8]) -> Result<Vec<u8>, UuError> {
    let mut dec = UuDecoder::new();
    let mut rest = body;
    while !rest.is_empty() {
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            // An unterminated last line cannot be the terminator line.
            return Err(UuError::MissingTerminator);
        };
        dec.push_line(&rest[..nl])?;
        rest = &rest[nl + 1..];
    }
    dec.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// control.md §7: the list object of the annotated session (28 bytes -> 44).
    fn list_obj() -> Vec<u8> {
        let mut v = hex("1205 0001 00000014 00000001 00000000");
        v.extend_from_slice(b"ctl.sock:0\0");
        v.push(0);
        v
    }

    /// control.md §7: the cycle-start object (43 bytes -> 64).
    fn cycle_start_obj() -> Vec<u8> {
        let mut v = hex("1205 0002 00000023 00000001 00000001 00000001 6553f100 02 0010");
        v.extend_from_slice(b"vp1.example.net\0");
        v
    }

    /// control.md §7: the cycle-stop object (17 bytes -> 28).
    fn cycle_stop_obj() -> Vec<u8> {
        hex("1205 0004 00000009 00000001 6553f164 00")
    }

    #[test]
    fn session_objects_encode_exactly() {
        let cases: [(Vec<u8>, &[u8]); 3] = [
            (
                list_obj(),
                b"<$@4``0```!0````!`````&-T;\"YS;V-K.C``````\n`\n",
            ),
            (
                cycle_start_obj(),
                b"K$@4``@```\",````!`````0````%E4_$``@`0=G`Q+F5X86UP;&4N;F5T````\n`\n",
            ),
            (cycle_stop_obj(), b"1$@4`!`````D````!95/Q9```\n`\n"),
        ];
        let lens = [(28, 44), (43, 64), (17, 28)];
        for ((obj, enc), (n, m)) in cases.iter().zip(lens) {
            assert_eq!(obj.len(), n);
            let got = uuencode(obj);
            assert_eq!(got, *enc, "{}", String::from_utf8_lossy(&got));
            assert_eq!(got.len(), m);
            assert_eq!(encoded_len(n), m);
            assert_eq!(uudecode(enc).unwrap(), *obj);
        }
    }

    #[test]
    fn captured_ping_object_decodes_to_92_bytes() {
        // warts.md §17: a real ping object, 45 + 45 + 2 bytes, DATA 132.
        let body: &[u8] = b"M$@4`!P```%3SO&4`)P````$````!:P.L<0`\"`DL!```!`%0!0``!.YL$`7\\`\n\
M``$````````!_I,B`\"$G0`!4```````<``!A:5>-``````!K`ZQQ``(#-`%L\n\
\";P``\n`\n";
        assert_eq!(body.len(), 132);
        let obj = uudecode(body).unwrap();
        assert_eq!(obj.len(), 92);
        assert_eq!(&obj[..4], &[0x12, 0x05, 0x00, 0x07]);
        assert_eq!(uuencode(&obj), body);
    }

    #[test]
    fn full_lines_and_boundaries() {
        for n in [1, 2, 3, 44, 45, 46, 89, 90, 91, 135] {
            let obj: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
            let e = uuencode(&obj);
            assert_eq!(e.len(), encoded_len(n), "n={n}");
            let lines: Vec<&[u8]> = e.split(|&b| b == b'\n').collect();
            // n/45 full lines of 62 bytes (61 + newline), each starting with 'M'.
            for l in &lines[..n / 45] {
                assert_eq!(l.len(), 61);
                assert_eq!(l[0], b'M');
            }
            assert!(!e.contains(&b' '));
            assert!(e.ends_with(b"`\n"));
        }
        assert_eq!(uuencode(&[]), b"`\n");
        assert_eq!(encoded_len(0), 2);
    }

    #[test]
    fn decoder_errors() {
        let mut d = UuDecoder::new();
        assert_eq!(d.push_line(b""), Err(UuError::EmptyLine { line: 1 }));
        let mut d = UuDecoder::new();
        assert_eq!(
            d.push_line(b" ```"),
            Err(UuError::BadCharacter {
                line: 1,
                offset: 0,
                byte: b' '
            })
        );
        let mut d = UuDecoder::new();
        assert_eq!(
            d.push_line(b"!a```"),
            Err(UuError::BadCharacter {
                line: 1,
                offset: 1,
                byte: b'a'
            })
        );
        let mut d = UuDecoder::new();
        assert_eq!(
            d.push_line(b"\"``"),
            Err(UuError::BadLength {
                line: 1,
                count: 2,
                chars: 2
            })
        );
        let mut d = UuDecoder::new();
        assert_eq!(d.push_line(b"!0```"), Ok(UuLine::Data(1)));
        assert!(!d.is_done());
        assert_eq!(d.push_line(b"`"), Ok(UuLine::End));
        assert!(d.is_done());
        assert_eq!(d.push_line(b"!0```"), Err(UuError::AfterEnd { line: 3 }));
        assert_eq!(d.finish().unwrap(), b"@");
        assert_eq!(UuDecoder::new().finish(), Err(UuError::MissingTerminator));
        assert_eq!(uudecode(b"!0```\n"), Err(UuError::MissingTerminator));
        assert_eq!(uudecode(b"!0```\n`"), Err(UuError::MissingTerminator));
        assert_eq!(uudecode(b"`\n!0```\n"), Err(UuError::AfterEnd { line: 2 }));
        // High bytes never panic.
        assert!(uudecode(&[0xff, b'\n']).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(obj in proptest::collection::vec(any::<u8>(), 0..400)) {
            let e = uuencode(&obj);
            prop_assert_eq!(e.len(), encoded_len(obj.len()));
            prop_assert!(e.iter().all(|&b| b == b'\n' || (0x21..=0x60).contains(&b)));
            prop_assert_eq!(uudecode(&e).unwrap(), obj);
        }

        #[test]
        fn decoder_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = uudecode(&body);
        }
    }
}
