//! The word scanner of measurement command lines: options first (`-c3` or `-c 3`, value-less
//! flags alone or grouped as `-QT`), then exactly one positional word, the destination.

/// Which option letters a measurement accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    /// Letters of options without a value.
    pub flags: &'static str,
    /// Letters of options that take a value.
    pub values: &'static str,
    /// Whether several flags may share one word (`-QT`); without it a flag must be alone.
    pub grouped_flags: bool,
}

/// One item of a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg<'a> {
    /// A value-less option.
    Flag(char),
    /// An option and its value: the rest of its word, or else the whole next word (even one
    /// that starts with `-`, as getopt does).
    Opt(char, &'a str),
    /// The positional word (the destination); it must be the last word.
    Dest(&'a str),
}

/// Why the words do not form a command line; the texts are those the measurements report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// A letter the measurement does not know, a lone `-`, or a group of flags that holds a
    /// non-flag; carries the whole word.
    #[error("unknown option {0}")]
    UnknownOption(String),
    /// An option that takes a value ended the command line.
    #[error("-{0}: missing value")]
    MissingValue(char),
    /// A word after the destination.
    #[error("unexpected argument {0} after destination")]
    ExtraArgument(String),
}

/// Iterator over the items of a command line, in order, so that a measurement meets value
/// errors and scan errors in the order of the words. It stops after the first error.
pub struct Scanner<'a, S> {
    spec: OptionSpec,
    words: &'a [S],
    next: usize,
    /// The flags of a group not yet yielded.
    group: std::str::Chars<'a>,
    seen_dest: bool,
    done: bool,
}

impl<'a, S: AsRef<str>> Scanner<'a, S> {
    pub fn new(spec: OptionSpec, words: &'a [S]) -> Self {
        Scanner {
            spec,
            words,
            next: 0,
            group: "".chars(),
            seen_dest: false,
            done: false,
        }
    }

    fn word(&mut self) -> Option<&'a str> {
        let w = self.words.get(self.next)?.as_ref();
        self.next += 1;
        Some(w)
    }

    fn scan(&mut self) -> Option<Result<Arg<'a>, ScanError>> {
        if let Some(c) = self.group.next() {
            return Some(Ok(Arg::Flag(c)));
        }
        let w = self.word()?;
        if self.seen_dest {
            return Some(Err(ScanError::ExtraArgument(w.to_string())));
        }
        let Some(body) = w.strip_prefix('-') else {
            self.seen_dest = true;
            return Some(Ok(Arg::Dest(w)));
        };
        let unknown = || Some(Err(ScanError::UnknownOption(w.to_string())));
        let mut chars = body.chars();
        let Some(opt) = chars.next() else {
            return unknown();
        };
        if self.spec.flags.contains(opt) {
            let rest = chars.as_str();
            let fits = if self.spec.grouped_flags {
                rest.chars().all(|c| self.spec.flags.contains(c))
            } else {
                rest.is_empty()
            };
            if !fits {
                return unknown();
            }
            // Check the whole group before yielding any of it.
            self.group = rest.chars();
            return Some(Ok(Arg::Flag(opt)));
        }
        if !self.spec.values.contains(opt) {
            return unknown();
        }
        let attached = chars.as_str();
        if !attached.is_empty() {
            return Some(Ok(Arg::Opt(opt, attached)));
        }
        match self.word() {
            Some(v) => Some(Ok(Arg::Opt(opt, v))),
            None => Some(Err(ScanError::MissingValue(opt))),
        }
    }
}

impl<'a, S: AsRef<str>> Iterator for Scanner<'a, S> {
    type Item = Result<Arg<'a>, ScanError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.scan();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPED: OptionSpec = OptionSpec {
        flags: "MQT",
        values: "cdP",
        grouped_flags: true,
    };
    const SINGLE: OptionSpec = OptionSpec {
        flags: "R",
        values: "cdP",
        grouped_flags: false,
    };

    fn w(line: &str) -> Vec<&str> {
        line.split_whitespace().collect()
    }

    fn scan<'a>(spec: OptionSpec, words: &'a [&'a str]) -> Result<Vec<Arg<'a>>, ScanError> {
        Scanner::new(spec, words).collect()
    }

    #[test]
    fn values_attached_or_in_the_next_word() {
        assert_eq!(
            scan(GROUPED, &w("-c3 -d 80 -Picmp 192.0.2.1")),
            Ok(vec![
                Arg::Opt('c', "3"),
                Arg::Opt('d', "80"),
                Arg::Opt('P', "icmp"),
                Arg::Dest("192.0.2.1"),
            ])
        );
    }

    #[test]
    fn next_word_value_may_look_like_an_option() {
        assert_eq!(
            scan(GROUPED, &w("-c -3 -d -Q 192.0.2.1")),
            Ok(vec![
                Arg::Opt('c', "-3"),
                Arg::Opt('d', "-Q"),
                Arg::Dest("192.0.2.1"),
            ])
        );
        // An attached value keeps its dashes too.
        assert_eq!(
            scan(GROUPED, &w("-c-1 x")),
            Ok(vec![Arg::Opt('c', "-1"), Arg::Dest("x")])
        );
    }

    #[test]
    fn grouped_flags_are_yielded_one_by_one() {
        assert_eq!(
            scan(GROUPED, &w("-QT -M -c 1 192.0.2.1")),
            Ok(vec![
                Arg::Flag('Q'),
                Arg::Flag('T'),
                Arg::Flag('M'),
                Arg::Opt('c', "1"),
                Arg::Dest("192.0.2.1"),
            ])
        );
        assert_eq!(
            scan(GROUPED, &w("-QQ x")),
            Ok(vec![Arg::Flag('Q'), Arg::Flag('Q'), Arg::Dest("x")])
        );
    }

    #[test]
    fn a_group_holding_a_non_flag_is_unknown_as_a_whole() {
        assert_eq!(
            scan(GROUPED, &w("-QX 192.0.2.1")),
            Err(ScanError::UnknownOption("-QX".into()))
        );
        // A value option cannot follow flags in the same word.
        assert_eq!(
            scan(GROUPED, &w("-Qc3 192.0.2.1")),
            Err(ScanError::UnknownOption("-Qc3".into()))
        );
        // Nothing of the group is yielded before the error.
        let words = ["-QTx", "192.0.2.1"];
        let mut s = Scanner::new(GROUPED, &words);
        assert_eq!(s.next(), Some(Err(ScanError::UnknownOption("-QTx".into()))));
        assert_eq!(s.next(), None);
    }

    #[test]
    fn without_grouping_a_flag_stands_alone() {
        assert_eq!(
            scan(SINGLE, &w("-R 192.0.2.1")),
            Ok(vec![Arg::Flag('R'), Arg::Dest("192.0.2.1")])
        );
        for bad in ["-RR", "-Rx", "-Rc3"] {
            assert_eq!(
                scan(SINGLE, &w(&format!("{bad} 192.0.2.1"))),
                Err(ScanError::UnknownOption(bad.into()))
            );
        }
    }

    #[test]
    fn unknown_options() {
        assert_eq!(
            scan(SINGLE, &w("-x 192.0.2.1")),
            Err(ScanError::UnknownOption("-x".into()))
        );
        assert_eq!(
            scan(SINGLE, &w("- 192.0.2.1")),
            Err(ScanError::UnknownOption("-".into()))
        );
        // `--` does not end the options here: it is an unknown option.
        assert_eq!(
            scan(GROUPED, &w("-- 192.0.2.1")),
            Err(ScanError::UnknownOption("--".into()))
        );
        assert_eq!(
            scan(GROUPED, &w("-é 192.0.2.1")),
            Err(ScanError::UnknownOption("-é".into()))
        );
    }

    #[test]
    fn missing_value() {
        assert_eq!(scan(GROUPED, &w("-c")), Err(ScanError::MissingValue('c')));
        assert_eq!(
            scan(GROUPED, &w("-Q -d")),
            Err(ScanError::MissingValue('d'))
        );
    }

    #[test]
    fn nothing_may_follow_the_destination() {
        assert_eq!(
            scan(GROUPED, &w("192.0.2.1 192.0.2.2")),
            Err(ScanError::ExtraArgument("192.0.2.2".into()))
        );
        assert_eq!(
            scan(GROUPED, &w("192.0.2.1 -c 3")),
            Err(ScanError::ExtraArgument("-c".into()))
        );
    }

    #[test]
    fn items_come_in_word_order_and_stop_at_the_first_error() {
        let words = ["-c", "0", "-x", "192.0.2.1"];
        let mut s = Scanner::new(GROUPED, &words);
        assert_eq!(s.next(), Some(Ok(Arg::Opt('c', "0"))));
        assert_eq!(s.next(), Some(Err(ScanError::UnknownOption("-x".into()))));
        assert_eq!(s.next(), None);
    }

    #[test]
    fn no_words_no_items() {
        assert_eq!(scan(GROUPED, &w("")), Ok(vec![]));
        assert_eq!(scan(GROUPED, &w("-Q")), Ok(vec![Arg::Flag('Q')]));
    }

    #[test]
    fn owned_words_work_too() {
        let words: Vec<String> = vec!["-d".into(), "53".into(), "::1".into()];
        let items: Result<Vec<_>, _> = Scanner::new(GROUPED, &words).collect();
        assert_eq!(items, Ok(vec![Arg::Opt('d', "53"), Arg::Dest("::1")]));
    }
}
