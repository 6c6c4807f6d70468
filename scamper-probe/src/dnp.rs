//! Do-not-probe lists (`-O dnp=<file>`, privsep.md §4).
//!
//! Each family keeps its prefixes as a sorted array of disjoint prefixes: a prefix covered by
//! another listed prefix adds nothing to "is this address listed?", so it is dropped when the set
//! is built. Because two prefixes are either nested or disjoint, the survivors never overlap and a
//! lookup is one binary search, O(log n), with 5 bytes per IPv4 and 17 bytes per IPv6 prefix.
//! A built set is immutable, so the prober can share it in an `Arc` and swap the whole `Arc` on
//! reload.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address family word (u32 for IPv4, u128 for IPv6).
trait Word: Copy + Ord {
    /// The bits below a prefix of length `len` (all ones for `len` 0).
    fn host_mask(len: u8) -> Self;
    fn or(self, other: Self) -> Self;
    fn and(self, other: Self) -> Self;
    fn is_zero(self) -> bool;
}

impl Word for u32 {
    fn host_mask(len: u8) -> u32 {
        u32::MAX.checked_shr(u32::from(len)).unwrap_or(0)
    }
    fn or(self, o: u32) -> u32 {
        self | o
    }
    fn and(self, o: u32) -> u32 {
        self & o
    }
    fn is_zero(self) -> bool {
        self == 0
    }
}

impl Word for u128 {
    fn host_mask(len: u8) -> u128 {
        u128::MAX.checked_shr(u32::from(len)).unwrap_or(0)
    }
    fn or(self, o: u128) -> u128 {
        self | o
    }
    fn and(self, o: u128) -> u128 {
        self & o
    }
    fn is_zero(self) -> bool {
        self == 0
    }
}

/// Disjoint prefixes of one family, sorted by network address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Table<W> {
    nets: Vec<W>,
    lens: Vec<u8>,
}

impl<W: Word> Table<W> {
    /// Builds from arbitrary (network, length) pairs with no host bits set.
    fn build(mut entries: Vec<(W, u8)>) -> Table<W> {
        // Equal networks: the shortest prefix first, so it absorbs the longer ones.
        entries.sort_unstable();
        let mut nets = Vec::with_capacity(entries.len());
        let mut lens = Vec::with_capacity(entries.len());
        let mut last_end: Option<W> = None;
        for (net, len) in entries {
            if last_end.is_some_and(|end| net <= end) {
                // Starts inside the previous kept prefix, hence nested in it.
                continue;
            }
            last_end = Some(net.or(W::host_mask(len)));
            nets.push(net);
            lens.push(len);
        }
        nets.shrink_to_fit();
        lens.shrink_to_fit();
        Table { nets, lens }
    }

    fn entries(&self) -> impl Iterator<Item = (W, u8)> + '_ {
        self.nets.iter().copied().zip(self.lens.iter().copied())
    }

    fn contains(&self, addr: W) -> bool {
        let idx = self.nets.partition_point(|&n| n <= addr);
        idx > 0 && addr <= self.nets[idx - 1].or(W::host_mask(self.lens[idx - 1]))
    }
}

/// A do-not-probe set. Cheap to share: hold it in an `Arc` and replace the `Arc` on reload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoNotProbe {
    v4: Table<u32>,
    v6: Table<u128>,
}

/// What is wrong with a line of a do-not-probe file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnpErrorKind {
    /// The part before `/` is not an IPv4 or IPv6 address.
    InvalidAddress,
    /// The part after `/` is not a number of at least 1.
    InvalidPrefixLength,
    /// Length too long for IPv4, or host bits set.
    InvalidIpv4Prefix,
    /// Length too long for IPv6, or host bits set.
    InvalidIpv6Prefix,
}

impl fmt::Display for DnpErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DnpErrorKind::InvalidAddress => "invalid network address",
            DnpErrorKind::InvalidPrefixLength => "invalid prefix length",
            DnpErrorKind::InvalidIpv4Prefix => "invalid IPv4 prefix",
            DnpErrorKind::InvalidIpv6Prefix => "invalid IPv6 prefix",
        })
    }
}

/// A rejected do-not-probe file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnpError {
    /// The name given to [`DoNotProbe::parse`] (usually the file name).
    pub source: String,
    /// 1-based line number.
    pub line: usize,
    pub kind: DnpErrorKind,
}

impl fmt::Display for DnpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.source.is_empty() {
            write!(f, "{}: ", self.source)?;
        }
        write!(f, "{} on line {}", self.kind, self.line)
    }
}

impl std::error::Error for DnpError {}

/// Parses one non-comment line into a network and length.
pub fn parse_prefix(line: &str) -> Result<(IpAddr, u8), DnpErrorKind> {
    let (addr, len) = match line.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (line, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| DnpErrorKind::InvalidAddress)?;
    let (width, bad) = match addr {
        IpAddr::V4(_) => (32, DnpErrorKind::InvalidIpv4Prefix),
        IpAddr::V6(_) => (128, DnpErrorKind::InvalidIpv6Prefix),
    };
    let len = match len {
        None => width,
        Some(l) => {
            if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DnpErrorKind::InvalidPrefixLength);
            }
            // All digits: the only parse failure is overflow, which is too long for any family.
            let n: u64 = l.parse().unwrap_or(u64::MAX);
            if n < 1 {
                return Err(DnpErrorKind::InvalidPrefixLength);
            }
            if n > u64::from(width) {
                return Err(bad);
            }
            n as u8
        }
    };
    let host_bits = match addr {
        IpAddr::V4(a) => !u32::from(a).and(u32::host_mask(len)).is_zero(),
        IpAddr::V6(a) => !u128::from(a).and(u128::host_mask(len)).is_zero(),
    };
    if host_bits {
        return Err(bad);
    }
    Ok((addr, len))
}

/// Collects prefixes from any number of files, then builds one [`DoNotProbe`].
#[derive(Debug, Default)]
pub struct DnpBuilder {
    v4: Vec<(u32, u8)>,
    v6: Vec<(u128, u8)>,
}

impl DnpBuilder {
    pub fn new() -> DnpBuilder {
        DnpBuilder::default()
    }

    /// Adds every entry of one file; on error nothing of that file is kept.
    pub fn add_text(&mut self, text: &str, source_name: &str) -> Result<(), DnpError> {
        let (n4, n6) = (self.v4.len(), self.v6.len());
        for (idx, line) in text.split('\n').enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_prefix(line) {
                Ok((addr, len)) => self.insert_unchecked(addr, len),
                Err(kind) => {
                    self.v4.truncate(n4);
                    self.v6.truncate(n6);
                    return Err(DnpError {
                        source: source_name.to_owned(),
                        line: idx + 1,
                        kind,
                    });
                }
            }
        }
        Ok(())
    }

    /// Adds one prefix after checking it like a file line.
    pub fn insert(&mut self, addr: IpAddr, len: u8) -> Result<(), DnpErrorKind> {
        let line = format!("{addr}/{len}");
        let (addr, len) = parse_prefix(&line)?;
        self.insert_unchecked(addr, len);
        Ok(())
    }

    fn insert_unchecked(&mut self, addr: IpAddr, len: u8) {
        match addr {
            IpAddr::V4(a) => self.v4.push((u32::from(a), len)),
            IpAddr::V6(a) => self.v6.push((u128::from(a), len)),
        }
    }

    pub fn build(self) -> DoNotProbe {
        DoNotProbe {
            v4: Table::build(self.v4),
            v6: Table::build(self.v6),
        }
    }
}

impl DoNotProbe {
    /// An empty set (nothing refused).
    pub fn empty() -> DoNotProbe {
        DoNotProbe::default()
    }

    /// Parses one do-not-probe file; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<DoNotProbe, DnpError> {
        let mut b = DnpBuilder::new();
        b.add_text(text, source_name)?;
        Ok(b.build())
    }

    /// Parses raw file contents. Invalid UTF-8 can only occur in lines that are invalid anyway
    /// (or comments), and replacing it keeps the line numbers.
    pub fn parse_bytes(bytes: &[u8], source_name: &str) -> Result<DoNotProbe, DnpError> {
        DoNotProbe::parse(&String::from_utf8_lossy(bytes), source_name)
    }

    /// Parses several files (name, contents) into one set; the first bad file fails it all,
    /// as a reload is all-or-nothing.
    pub fn parse_all<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<DoNotProbe, DnpError> {
        let mut b = DnpBuilder::new();
        for (name, text) in files {
            b.add_text(text, name)?;
        }
        Ok(b.build())
    }

    /// The union of several sets.
    pub fn merge<'a>(sets: impl IntoIterator<Item = &'a DoNotProbe>) -> DoNotProbe {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for s in sets {
            v4.extend(s.v4.entries());
            v6.extend(s.v6.entries());
        }
        DoNotProbe {
            v4: Table::build(v4),
            v6: Table::build(v6),
        }
    }

    /// Whether `addr` falls inside a listed prefix.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.v4.contains(u32::from(a)),
            IpAddr::V6(a) => self.v6.contains(u128::from(a)),
        }
    }

    /// Number of prefixes kept: duplicates and prefixes inside another listed prefix are not
    /// counted.
    pub fn len(&self) -> usize {
        self.v4.nets.len() + self.v6.nets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kept prefixes, IPv4 first, each family in address order.
    pub fn prefixes(&self) -> impl Iterator<Item = (IpAddr, u8)> + '_ {
        let v4 = self
            .v4
            .entries()
            .map(|(n, l)| (IpAddr::V4(Ipv4Addr::from(n)), l));
        let v6 = self
            .v6
            .entries()
            .map(|(n, l)| (IpAddr::V6(Ipv6Addr::from(n)), l));
        v4.chain(v6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn line_rules() {
        // (line, Ok((addr, len)) or error kind)
        use DnpErrorKind::*;
        type Row<'a> = (&'a str, Result<(&'a str, u8), DnpErrorKind>);
        let cases: &[Row] = &[
            ("192.0.2.1", Ok(("192.0.2.1", 32))),
            ("192.0.2.0/24", Ok(("192.0.2.0", 24))),
            ("10.0.0.0/8", Ok(("10.0.0.0", 8))),
            ("128.0.0.0/1", Ok(("128.0.0.0", 1))),
            ("192.0.2.1/32", Ok(("192.0.2.1", 32))),
            ("192.0.2.0/024", Ok(("192.0.2.0", 24))),
            ("2001:db8::/32", Ok(("2001:db8::", 32))),
            ("2001:db8::1", Ok(("2001:db8::1", 128))),
            ("::ffff:192.0.2.0/120", Ok(("::ffff:192.0.2.0", 120))),
            ("192.0.2.1/24", Err(InvalidIpv4Prefix)),
            ("192.0.2.0/33", Err(InvalidIpv4Prefix)),
            ("192.0.2.0/99999999999999999999999", Err(InvalidIpv4Prefix)),
            ("2001:db8::1/64", Err(InvalidIpv6Prefix)),
            ("2001:db8::/129", Err(InvalidIpv6Prefix)),
            ("192.0.2.0/0", Err(InvalidPrefixLength)),
            ("0.0.0.0/0", Err(InvalidPrefixLength)),
            ("192.0.2.0/", Err(InvalidPrefixLength)),
            ("192.0.2.0/+24", Err(InvalidPrefixLength)),
            ("192.0.2.0/24 ", Err(InvalidPrefixLength)),
            ("192.0.2.0/2x", Err(InvalidPrefixLength)),
            ("192.0.2.0/24/1", Err(InvalidPrefixLength)),
            ("192.0.2.1 ", Err(InvalidAddress)),
            (" 192.0.2.1", Err(InvalidAddress)),
            ("192.0.2.1\r", Err(InvalidAddress)),
            ("192.0.2", Err(InvalidAddress)),
            ("192.0.2.256", Err(InvalidAddress)),
            ("example.com", Err(InvalidAddress)),
            ("/24", Err(InvalidAddress)),
            ("fe80::1%eth0", Err(InvalidAddress)),
            ("bogus/x", Err(InvalidAddress)),
        ];
        for (line, want) in cases {
            let got = parse_prefix(line);
            let want = want.map(|(a, l)| (ip(a), l));
            assert_eq!(got, want, "{line:?}");
        }
    }

    #[test]
    fn file_errors_name_line() {
        let cases: &[(&str, &str)] = &[
            (
                "192.0.2.0/24\nbogus\n",
                "f.txt: invalid network address on line 2",
            ),
            (
                "# c\n\n10.0.0.0/0\n",
                "f.txt: invalid prefix length on line 3",
            ),
            ("10.0.0.1/8", "f.txt: invalid IPv4 prefix on line 1"),
            (
                "\n\n\n2001:db8::1/32\n",
                "f.txt: invalid IPv6 prefix on line 4",
            ),
            ("10.0.0.0/8\r\n", "f.txt: invalid prefix length on line 1"),
            (
                " #indented comment\n",
                "f.txt: invalid network address on line 1",
            ),
        ];
        for (text, msg) in cases {
            let e = DoNotProbe::parse(text, "f.txt").unwrap_err();
            assert_eq!(e.to_string(), *msg, "{text:?}");
        }
        let e = DoNotProbe::parse("x", "").unwrap_err();
        assert_eq!(e.to_string(), "invalid network address on line 1");
        assert_eq!(
            e,
            DnpError {
                source: String::new(),
                line: 1,
                kind: DnpErrorKind::InvalidAddress
            }
        );
    }

    #[test]
    fn lookups() {
        let text = "# do not probe\n\
                    192.0.2.0/24\n\
                    192.0.2.128/25\n\
                    198.51.100.7\n\
                    198.51.100.7\n\
                    10.0.0.0/8\n\
                    10.1.0.0/16\n\
                    2001:db8::/32\n\
                    2001:db8:1::/48\n\
                    2001:db8:ffff::1\n\
                    \n\
                    fd00::1\n";
        let d = DoNotProbe::parse(text, "dnp").unwrap();
        // Nested and duplicate entries are absorbed.
        assert_eq!(d.len(), 5);
        assert_eq!(
            d.prefixes().collect::<Vec<_>>(),
            vec![
                (ip("10.0.0.0"), 8),
                (ip("192.0.2.0"), 24),
                (ip("198.51.100.7"), 32),
                (ip("2001:db8::"), 32),
                (ip("fd00::1"), 128),
            ]
        );
        let cases: &[(&str, bool)] = &[
            ("192.0.2.0", true),
            ("192.0.2.255", true),
            ("192.0.1.255", false),
            ("192.0.3.0", false),
            ("198.51.100.7", true),
            ("198.51.100.6", false),
            ("198.51.100.8", false),
            ("10.255.255.255", true),
            ("11.0.0.0", false),
            ("9.255.255.255", false),
            ("0.0.0.0", false),
            ("255.255.255.255", false),
            ("2001:db8::", true),
            ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true),
            ("2001:db9::", false),
            ("2001:db7:ffff::", false),
            ("fd00::1", true),
            ("fd00::2", false),
            ("fd00::", false),
            ("::", false),
            // Families are separate: the v4-mapped form of a listed v4 address is not listed.
            ("::ffff:192.0.2.1", false),
        ];
        for (a, want) in cases {
            assert_eq!(d.contains(ip(a)), *want, "{a}");
        }
        assert!(!DoNotProbe::empty().contains(ip("192.0.2.1")));
        assert!(DoNotProbe::empty().is_empty());
    }

    #[test]
    fn whole_space_prefixes() {
        let d = DoNotProbe::parse("0.0.0.0/1\n128.0.0.0/1\n::/1\n8000::/1\n", "x").unwrap();
        for a in ["0.0.0.0", "255.255.255.255", "::", "ffff::1", "127.0.0.1"] {
            assert!(d.contains(ip(a)), "{a}");
        }
    }

    #[test]
    fn merge_and_parse_all() {
        let a = DoNotProbe::parse("192.0.2.0/25\n2001:db8::/64\n", "a").unwrap();
        let b = DoNotProbe::parse("192.0.2.0/24\n198.51.100.0/24\n", "b").unwrap();
        let m = DoNotProbe::merge([&a, &b]);
        assert_eq!(m.len(), 3);
        for (s, want) in [
            ("192.0.2.200", true),
            ("198.51.100.1", true),
            ("2001:db8::5", true),
            ("2001:db8:0:1::", false),
            ("203.0.113.1", false),
        ] {
            assert_eq!(m.contains(ip(s)), want, "{s}");
        }
        let all = DoNotProbe::parse_all([
            ("a", "192.0.2.0/25\n2001:db8::/64\n"),
            ("b", "192.0.2.0/24\n198.51.100.0/24\n"),
        ])
        .unwrap();
        assert_eq!(all, m);
        let e = DoNotProbe::parse_all([("a", "192.0.2.0/24\n"), ("b", "\nnope\n")]).unwrap_err();
        assert_eq!(e.to_string(), "b: invalid network address on line 2");
    }

    #[test]
    fn builder_keeps_nothing_of_a_bad_file() {
        let mut b = DnpBuilder::new();
        b.add_text("192.0.2.0/24\n", "good").unwrap();
        b.add_text("198.51.100.0/24\n2001:db8::/32\nbad\n", "bad")
            .unwrap_err();
        let d = b.build();
        assert!(d.contains(ip("192.0.2.1")));
        assert!(!d.contains(ip("198.51.100.1")));
        assert!(!d.contains(ip("2001:db8::1")));
        let mut b = DnpBuilder::new();
        assert_eq!(
            b.insert(ip("192.0.2.1"), 24),
            Err(DnpErrorKind::InvalidIpv4Prefix)
        );
        assert_eq!(b.insert(ip("192.0.2.0"), 24), Ok(()));
        assert_eq!(b.build().len(), 1);
    }

    #[test]
    fn bytes_input() {
        let d = DoNotProbe::parse_bytes(b"#\xff\n192.0.2.0/24\n", "x").unwrap();
        assert!(d.contains(ip("192.0.2.9")));
        let e = DoNotProbe::parse_bytes(b"192.0.2.0/24\n\xff\n", "x").unwrap_err();
        assert_eq!(e.to_string(), "x: invalid network address on line 2");
    }

    /// Reference lookup: every prefix length of the address, in a hash set of all the prefixes.
    struct Naive {
        v4: HashSet<(u32, u8)>,
        v6: HashSet<(u128, u8)>,
    }

    impl Naive {
        fn contains(&self, a: IpAddr) -> bool {
            match a {
                IpAddr::V4(a) => {
                    let a = u32::from(a);
                    (1..=32).any(|l| self.v4.contains(&(a & !u32::host_mask(l), l)))
                }
                IpAddr::V6(a) => {
                    let a = u128::from(a);
                    (1..=128).any(|l| self.v6.contains(&(a & !u128::host_mask(l), l)))
                }
            }
        }
    }

    /// xorshift64*: fast, deterministic and good enough to spread test prefixes.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn random_set(n: usize, seed: u64) {
        let mut rng = Rng(seed);
        let mut b = DnpBuilder::new();
        let mut naive = Naive {
            v4: HashSet::new(),
            v6: HashSet::new(),
        };
        let mut listed = Vec::new();
        for i in 0..n {
            if i % 10 < 7 {
                // Lengths 20..=32: enough /20s to nest many longer prefixes, few enough that
                // random addresses still miss.
                let len = 20 + rng.below(13) as u8;
                let net = (rng.next() as u32) & !u32::host_mask(len);
                b.insert_unchecked(IpAddr::V4(Ipv4Addr::from(net)), len);
                naive.v4.insert((net, len));
                listed.push(IpAddr::V4(Ipv4Addr::from(net)));
            } else {
                // Inside 2001:db8::/32 with lengths 36..=64, so IPv6 prefixes nest too.
                let len = 36 + rng.below(29) as u8;
                let bits = (u128::from(rng.next()) << 64) | u128::from(rng.next());
                let net = ((0x2001_0db8u128 << 96) | (bits >> 32)) & !u128::host_mask(len);
                b.insert_unchecked(IpAddr::V6(Ipv6Addr::from(net)), len);
                naive.v6.insert((net, len));
                listed.push(IpAddr::V6(Ipv6Addr::from(net)));
            }
        }
        let d = b.build();
        let mut hits = 0;
        for k in 0..20_000 {
            let a = match k % 4 {
                0 => IpAddr::V4(Ipv4Addr::from(rng.next() as u32)),
                1 => {
                    let bits = (u128::from(rng.next()) << 64) | u128::from(rng.next());
                    IpAddr::V6(Ipv6Addr::from((0x2001_0db8u128 << 96) | (bits >> 32)))
                }
                // Near a listed network: inside, or just below it.
                _ => {
                    let base = listed[rng.below(listed.len() as u64) as usize];
                    let delta = rng.below(512);
                    let below = k % 8 == 2;
                    match base {
                        IpAddr::V4(a) => {
                            let a = u32::from(a);
                            IpAddr::V4(Ipv4Addr::from(if below {
                                a.wrapping_sub(1 + delta as u32)
                            } else {
                                a.wrapping_add(delta as u32)
                            }))
                        }
                        IpAddr::V6(a) => {
                            let a = u128::from(a);
                            IpAddr::V6(Ipv6Addr::from(if below {
                                a.wrapping_sub(1 + u128::from(delta))
                            } else {
                                a.wrapping_add(u128::from(delta))
                            }))
                        }
                    }
                }
            };
            let want = naive.contains(a);
            hits += usize::from(want);
            assert_eq!(d.contains(a), want, "{a}");
        }
        // The sample must exercise both answers.
        assert!(hits > 1000 && hits < 19_000, "hits {hits}");
    }

    #[test]
    fn random_100k_prefixes() {
        random_set(100_000, 0x9e37_79b9_7f4a_7c15);
    }

    /// About 1 s in a debug build, so it always runs.
    #[test]
    fn random_1m_prefixes() {
        random_set(1_000_000, 0x0123_4567_89ab_cdef);
    }

    fn arb_v4() -> impl Strategy<Value = (u32, u8)> {
        // A narrow address range so that prefixes nest and lookups hit.
        (0u32..1024, 22u8..=32).prop_map(|(a, l)| ((0x0a00_0000 | a) & !u32::host_mask(l), l))
    }

    proptest! {
        #[test]
        fn matches_linear_scan(
            prefixes in proptest::collection::vec(arb_v4(), 0..40),
            probes in proptest::collection::vec(0u32..1200, 1..60),
        ) {
            let mut text = String::new();
            for (n, l) in &prefixes {
                text.push_str(&format!("{}/{}\n", Ipv4Addr::from(*n), l));
            }
            let d = DoNotProbe::parse(&text, "p").unwrap();
            for p in probes {
                let a = 0x0a00_0000 | p;
                let want = prefixes.iter().any(|&(n, l)| a & !u32::host_mask(l) == n);
                prop_assert_eq!(d.contains(IpAddr::V4(Ipv4Addr::from(a))), want);
            }
        }

        #[test]
        fn merge_is_union(
            a in proptest::collection::vec(arb_v4(), 0..20),
            b in proptest::collection::vec(arb_v4(), 0..20),
            probes in proptest::collection::vec(0u32..1200, 1..40),
        ) {
            let set = |v: &Vec<(u32, u8)>| {
                let mut bld = DnpBuilder::new();
                for &(n, l) in v {
                    bld.insert(IpAddr::V4(Ipv4Addr::from(n)), l).unwrap();
                }
                bld.build()
            };
            let (sa, sb) = (set(&a), set(&b));
            let m = DoNotProbe::merge([&sa, &sb]);
            for p in probes {
                let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | p));
                prop_assert_eq!(m.contains(addr), sa.contains(addr) || sb.contains(addr));
            }
        }
    }
}
