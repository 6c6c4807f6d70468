//! sc_remoted's command line (remote.md §9), parsed getopt-style: `-P31337` and `-P 31337` both
//! work, flags combine (`-4D`), `--` ends options.

use std::net::IpAddr;
use std::path::PathBuf;

pub const VERSION: &str = "20260420";
pub const ZOMBIE_DEFAULT: u32 = 900;
pub const ZOMBIE_MAX: u32 = 10800;

pub const USAGE: &str = concat!(
    "usage: sc_remoted [-?46Dv] -P [ip:]port [-M mux-socket] [-U unix-dir]\n",
    "                  [-O option] [-R chroot-dir] [-C ca-file] [-c cert-file] [-p key-file]\n",
    "                  [-e pid-file] [-m meta-file] [-Z zombie-time]"
);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    pub allowgroup: bool,
    pub allowother: bool,
    pub debug: bool,
    pub select: bool,
    pub skipnameverification: bool,
    pub notimes: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opts {
    pub listen_ip: Option<IpAddr>,
    pub port: u16,
    pub only_v4: bool,
    pub only_v6: bool,
    pub daemon: bool,
    pub mux_socket: Option<PathBuf>,
    pub unix_dir: Option<PathBuf>,
    pub flags: Flags,
    pub chroot: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub meta_file: Option<PathBuf>,
    pub zombie_secs: u32,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Run(Box<Opts>),
    Version,
    Help,
}

/// `[ip:]port`, `[v6]:port` or a bare port.
fn parse_listen(s: &str) -> Result<(Option<IpAddr>, u16), String> {
    let bad = || format!("invalid -P {s}");
    let (ip, port) = if let Some(rest) = s.strip_prefix('[') {
        let (ip, port) = rest.split_once("]:").ok_or_else(bad)?;
        (Some(ip), port)
    } else if let Some((ip, port)) = s.rsplit_once(':') {
        (Some(ip), port)
    } else {
        (None, s)
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 {
        return Err(bad());
    }
    let ip = ip
        .map(|i| i.parse::<IpAddr>().map_err(|_| bad()))
        .transpose()?;
    Ok((ip, port))
}

pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut o = Opts {
        listen_ip: None,
        port: 0,
        only_v4: false,
        only_v6: false,
        daemon: false,
        mux_socket: None,
        unix_dir: None,
        flags: Flags::default(),
        chroot: None,
        ca_file: None,
        cert_file: None,
        key_file: None,
        pid_file: None,
        meta_file: None,
        zombie_secs: ZOMBIE_DEFAULT,
    };
    let mut version = false;
    let mut have_port = false;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            break;
        }
        let Some(body) = a.strip_prefix('-').filter(|b| !b.is_empty()) else {
            return Err(format!("unexpected argument {a}"));
        };
        for (at, c) in body.char_indices() {
            match c {
                '?' => return Ok(Parsed::Help),
                '4' => o.only_v4 = true,
                '6' => o.only_v6 = true,
                'D' => o.daemon = true,
                'v' => version = true,
                'P' | 'M' | 'U' | 'O' | 'R' | 'C' | 'c' | 'p' | 'e' | 'm' | 'Z' => {
                    let rest = &body[at + c.len_utf8()..];
                    let val = if !rest.is_empty() {
                        rest.to_string()
                    } else if i < args.len() {
                        i += 1;
                        args[i - 1].clone()
                    } else {
                        return Err(format!("option requires an argument -- '{c}'"));
                    };
                    match c {
                        'P' => {
                            let (ip, port) = parse_listen(&val)?;
                            o.listen_ip = ip;
                            o.port = port;
                            have_port = true;
                        }
                        'M' => o.mux_socket = Some(val.into()),
                        'U' => o.unix_dir = Some(val.into()),
                        'O' => match val.as_str() {
                            "allowgroup" => o.flags.allowgroup = true,
                            "allowother" => o.flags.allowother = true,
                            "debug" => o.flags.debug = true,
                            "select" => o.flags.select = true,
                            "skipnameverification" => o.flags.skipnameverification = true,
                            "notimes" => o.flags.notimes = true,
                            other => return Err(format!("unknown option {other}")),
                        },
                        'R' => o.chroot = Some(val.into()),
                        'C' => o.ca_file = Some(val.into()),
                        'c' => o.cert_file = Some(val.into()),
                        'p' => o.key_file = Some(val.into()),
                        'e' => o.pid_file = Some(val.into()),
                        'm' => o.meta_file = Some(val.into()),
                        'Z' => {
                            o.zombie_secs = val
                                .parse::<u32>()
                                .ok()
                                .filter(|z| *z <= ZOMBIE_MAX)
                                .ok_or_else(|| format!("invalid zombie time {val}"))?;
                        }
                        _ => unreachable!("listed above"),
                    }
                    break;
                }
                other => return Err(format!("invalid option -- '{other}'")),
            }
        }
    }
    if i < args.len() {
        return Err(format!("unexpected argument {}", args[i]));
    }
    if version {
        return Ok(Parsed::Version);
    }
    if !have_port {
        return Err("missing -P".into());
    }
    if o.unix_dir.is_none() && o.mux_socket.is_none() {
        return Err("need -U or -M".into());
    }
    if o.only_v4 && o.only_v6 {
        return Err("-4 and -6 are mutually exclusive".into());
    }
    match o.listen_ip {
        Some(IpAddr::V6(_)) if o.only_v4 => return Err("-4 with an IPv6 -P address".into()),
        Some(IpAddr::V4(_)) if o.only_v6 => return Err("-6 with an IPv4 -P address".into()),
        _ => {}
    }
    if o.cert_file.is_some() != o.key_file.is_some() {
        return Err("-c and -p go together".into());
    }
    if o.ca_file.is_some() && o.cert_file.is_none() {
        return Err("-C requires -c and -p".into());
    }
    Ok(Parsed::Run(Box::new(o)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Parsed, String> {
        parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn run(a: &[&str]) -> Opts {
        match p(a).unwrap() {
            Parsed::Run(o) => *o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn full_command_line() {
        let o = run(&[
            "-4D",
            "-P",
            "127.0.0.1:31337",
            "-U/tmp/vps",
            "-M",
            "/tmp/mux",
            "-O",
            "allowgroup",
            "-Oskipnameverification",
            "-c",
            "c.pem",
            "-p",
            "k.pem",
            "-C",
            "ca.pem",
            "-e",
            "pid",
            "-m",
            "meta",
            "-Z",
            "60",
        ]);
        assert_eq!(o.listen_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(o.port, 31337);
        assert!(o.only_v4 && o.daemon && o.flags.allowgroup && o.flags.skipnameverification);
        assert_eq!(o.unix_dir, Some(PathBuf::from("/tmp/vps")));
        assert_eq!(o.zombie_secs, 60);
        assert_eq!(o.ca_file, Some(PathBuf::from("ca.pem")));
    }

    #[test]
    fn listen_forms() {
        assert_eq!(run(&["-P", "31337", "-U", "d"]).listen_ip, None);
        assert_eq!(
            run(&["-P", "[::1]:5", "-U", "d"]).listen_ip,
            Some("::1".parse().unwrap())
        );
        assert_eq!(run(&["-P", "::1:5", "-U", "d"]).port, 5);
        assert!(p(&["-P", "0", "-U", "d"]).is_err());
        assert!(p(&["-P", "x:1", "-U", "d"]).is_err());
    }

    #[test]
    fn rules() {
        assert!(p(&["-U", "d"]).is_err(), "-P required");
        assert!(p(&["-P", "1"]).is_err(), "-U or -M required");
        assert!(p(&["-P", "1", "-U", "d", "-c", "x"]).is_err());
        assert!(p(&["-P", "1", "-U", "d", "-C", "x"]).is_err());
        assert!(p(&["-P", "1", "-U", "d", "-Z", "10801"]).is_err());
        assert!(p(&["-P", "1", "-U", "d", "-O", "bogus"]).is_err());
        assert!(p(&["-P", "1", "-U", "d", "-x"]).is_err());
        assert!(p(&["-P", "1", "-U", "d", "-4", "-6"]).is_err());
        assert!(p(&["-6", "-P", "127.0.0.1:1", "-U", "d"]).is_err());
        assert!(p(&["-P"]).is_err());
        assert_eq!(p(&["-v"]).unwrap(), Parsed::Version);
        assert_eq!(p(&["-?"]).unwrap(), Parsed::Help);
        assert_eq!(run(&["-P", "1", "-M", "m"]).zombie_secs, ZOMBIE_DEFAULT);
    }
}
