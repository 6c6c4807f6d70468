//! Which requests the helper grants. Every request is checked here before the helper acts on
//! it; the checks depend only on the command line the user gave and on what the prober already
//! obtained, never on anything the prober claims.

use scamper_proto::{Refusal, ReopenFile, Request, PROTO_VERSION};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The rule numbers `-F` lets scamper use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirewallSlots {
    pub first: u32,
    pub last: u32,
}

/// What the user allowed on the command line.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub control_unix: Option<PathBuf>,
    pub control_tcp: Option<SocketAddr>,
    pub config_file: Option<PathBuf>,
    pub dnp_files: Vec<PathBuf>,
    pub firewall: Option<FirewallSlots>,
}

/// What has happened on this channel so far.
#[derive(Debug, Default)]
pub struct ChannelState {
    pub greeted: bool,
    pub ready: bool,
    pub unix_bound: bool,
    pub tcp_bound: bool,
    pub reload_pending: bool,
}

fn deny(why: impl Into<String>) -> Refusal {
    Refusal::Policy(why.into())
}

/// Does an interface with this index exist?
pub fn interface_exists(ifindex: u32) -> bool {
    nix::net::if_::if_nameindex()
        .map(|list| list.iter().any(|i| i.index() == ifindex))
        .unwrap_or(false)
}

impl Policy {
    /// Check `req` against the policy and the channel state. `iface_exists` is a parameter so
    /// the table tests need no real interfaces.
    pub fn check(
        &self,
        req: &Request,
        st: &ChannelState,
        iface_exists: &dyn Fn(u32) -> bool,
    ) -> Result<(), Refusal> {
        if !st.greeted {
            return match req {
                Request::Hello { version } if *version == PROTO_VERSION => Ok(()),
                Request::Hello { version } => Err(deny(format!(
                    "protocol version {version}, expected {PROTO_VERSION}"
                ))),
                _ => Err(deny("hello expected first")),
            };
        }
        match req {
            Request::Hello { .. } => Err(deny("hello sent twice")),
            Request::OpenIcmp { .. } | Request::OpenRawIp { .. } | Request::OpenRouteSocket => {
                Ok(())
            }
            Request::OpenDatalink { ifindex } => {
                if *ifindex == 0 || iface_exists(*ifindex) {
                    Ok(())
                } else {
                    Err(deny(format!("no interface with index {ifindex}")))
                }
            }
            Request::BindControlUnix => match (&self.control_unix, st.unix_bound) {
                (None, _) => Err(deny("no -U socket was configured")),
                (Some(_), true) => Err(deny("-U socket already bound")),
                (Some(_), false) => Ok(()),
            },
            Request::BindControlTcp => match (&self.control_tcp, st.tcp_bound) {
                (None, _) => Err(deny("no -P socket was configured")),
                (Some(_), true) => Err(deny("-P socket already bound")),
                (Some(_), false) => Ok(()),
            },
            Request::Reopen { file } => self.reopen_path(*file).map(|_| ()),
            Request::FirewallAdd {
                slot,
                src,
                dst,
                sport,
                dport,
                ..
            } => {
                self.check_slot(*slot)?;
                if src.is_ipv4() != dst.is_ipv4() {
                    return Err(deny("firewall rule mixes address families"));
                }
                if *sport == 0 || *dport == 0 {
                    return Err(deny("firewall rule needs non-zero ports"));
                }
                Ok(())
            }
            Request::FirewallDelete { slot } => self.check_slot(*slot),
            Request::Ready if st.ready => Err(deny("ready sent twice")),
            Request::Ready => Ok(()),
            Request::Reloaded { .. } if !st.reload_pending => Err(deny("no reload was asked for")),
            Request::Reloaded { .. } => Ok(()),
        }
    }

    fn check_slot(&self, slot: u32) -> Result<(), Refusal> {
        match self.firewall {
            None => Err(deny("no -F firewall range was configured")),
            Some(r) if slot < r.first || slot > r.last => Err(deny(format!(
                "rule {slot} outside the -F range {}-{}",
                r.first, r.last
            ))),
            Some(_) => Ok(()),
        }
    }

    /// The path behind a reopen request, if the user named one.
    pub fn reopen_path(&self, file: ReopenFile) -> Result<PathBuf, Refusal> {
        match file {
            ReopenFile::Config => self
                .config_file
                .clone()
                .ok_or_else(|| deny("no -g config file was configured")),
            ReopenFile::DoNotProbe(n) => self
                .dnp_files
                .get(n as usize)
                .cloned()
                .ok_or_else(|| deny(format!("no do-not-probe file number {n}"))),
            ReopenFile::ResolvConf => Ok(PathBuf::from("/etc/resolv.conf")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scamper_proto::{Family, FwProto};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn greeted() -> ChannelState {
        ChannelState {
            greeted: true,
            ..Default::default()
        }
    }

    fn full_policy() -> Policy {
        Policy {
            control_unix: Some("/run/scamper.sock".into()),
            control_tcp: Some("127.0.0.1:31337".parse().unwrap()),
            config_file: Some("/etc/scamper.conf".into()),
            dnp_files: vec!["/etc/dnp-a".into(), "/etc/dnp-b".into()],
            firewall: Some(FirewallSlots {
                first: 100,
                last: 200,
            }),
        }
    }

    fn fw_add(slot: u32, src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> Request {
        Request::FirewallAdd {
            slot,
            proto: FwProto::Tcp,
            src,
            dst,
            sport,
            dport,
        }
    }

    const V4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const V4B: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    const V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));

    /// One row per request type: a request outside policy, the state it arrives in, and the
    /// policy in force. Each must be refused with a policy reason.
    #[test]
    fn requests_outside_policy_are_refused() {
        let empty = Policy::default();
        let full = full_policy();
        let fresh = ChannelState::default();
        let bound = ChannelState {
            greeted: true,
            unix_bound: true,
            tcp_bound: true,
            ready: true,
            ..Default::default()
        };
        let only_iface_1 = |i: u32| i == 1;
        let g = greeted();
        let cases: Vec<(&str, &Policy, &ChannelState, Request)> = vec![
            (
                "request before hello",
                &full,
                &fresh,
                Request::OpenRouteSocket,
            ),
            (
                "wrong version",
                &full,
                &fresh,
                Request::Hello { version: 999 },
            ),
            (
                "second hello",
                &full,
                &g,
                Request::Hello {
                    version: PROTO_VERSION,
                },
            ),
            (
                "missing interface",
                &full,
                &g,
                Request::OpenDatalink { ifindex: 7 },
            ),
            ("-U not configured", &empty, &g, Request::BindControlUnix),
            ("-U bound twice", &full, &bound, Request::BindControlUnix),
            ("-P not configured", &empty, &g, Request::BindControlTcp),
            ("-P bound twice", &full, &bound, Request::BindControlTcp),
            (
                "config not configured",
                &empty,
                &g,
                Request::Reopen {
                    file: ReopenFile::Config,
                },
            ),
            (
                "dnp index out of range",
                &full,
                &g,
                Request::Reopen {
                    file: ReopenFile::DoNotProbe(2),
                },
            ),
            (
                "firewall without -F",
                &empty,
                &g,
                fw_add(150, V4, V4B, 80, 4000),
            ),
            ("slot below range", &full, &g, fw_add(99, V4, V4B, 80, 4000)),
            (
                "slot above range",
                &full,
                &g,
                fw_add(201, V4, V4B, 80, 4000),
            ),
            ("mixed families", &full, &g, fw_add(150, V4, V6, 80, 4000)),
            ("zero sport", &full, &g, fw_add(150, V4, V4B, 0, 4000)),
            ("zero dport", &full, &g, fw_add(150, V4, V4B, 80, 0)),
            (
                "delete outside range",
                &full,
                &g,
                Request::FirewallDelete { slot: 5 },
            ),
            (
                "delete without -F",
                &empty,
                &g,
                Request::FirewallDelete { slot: 150 },
            ),
            ("ready twice", &full, &bound, Request::Ready),
            ("unasked reload", &full, &g, Request::Reloaded { ok: true }),
        ];
        for (what, policy, st, req) in cases {
            match policy.check(&req, st, &only_iface_1) {
                Err(Refusal::Policy(_)) => {}
                other => panic!("{what}: {req:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn requests_inside_policy_are_granted() {
        let full = full_policy();
        let only_iface_1 = |i: u32| i == 1;
        let reloading = ChannelState {
            greeted: true,
            reload_pending: true,
            ..Default::default()
        };
        let g = greeted();
        let fresh = ChannelState::default();
        let ok: Vec<(&ChannelState, Request)> = vec![
            (
                &fresh,
                Request::Hello {
                    version: PROTO_VERSION,
                },
            ),
            (
                &g,
                Request::OpenIcmp {
                    family: Family::Inet6,
                },
            ),
            (
                &g,
                Request::OpenRawIp {
                    family: Family::Inet,
                },
            ),
            (&g, Request::OpenRouteSocket),
            (&g, Request::OpenDatalink { ifindex: 0 }),
            (&g, Request::OpenDatalink { ifindex: 1 }),
            (&g, Request::BindControlUnix),
            (&g, Request::BindControlTcp),
            (
                &g,
                Request::Reopen {
                    file: ReopenFile::DoNotProbe(1),
                },
            ),
            (
                &g,
                Request::Reopen {
                    file: ReopenFile::Config,
                },
            ),
            (
                &g,
                Request::Reopen {
                    file: ReopenFile::ResolvConf,
                },
            ),
            (&g, fw_add(100, V4, V4B, 80, 4000)),
            (&g, fw_add(200, V4, V4B, 80, 4000)),
            (&g, Request::FirewallDelete { slot: 150 }),
            (&g, Request::Ready),
            (&reloading, Request::Reloaded { ok: false }),
        ];
        for (st, req) in ok {
            assert_eq!(full.check(&req, st, &only_iface_1), Ok(()), "{req:?}");
        }
    }

    #[test]
    fn reopen_names_only_configured_paths() {
        let full = full_policy();
        assert_eq!(
            full.reopen_path(ReopenFile::DoNotProbe(1)).unwrap(),
            PathBuf::from("/etc/dnp-b")
        );
        assert_eq!(
            full.reopen_path(ReopenFile::Config).unwrap(),
            PathBuf::from("/etc/scamper.conf")
        );
    }
}
