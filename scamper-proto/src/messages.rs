use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Address family of a socket request.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Inet,
    Inet6,
}

/// Transport protocol named in a firewall rule.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FwProto {
    Tcp,
    Udp,
}

/// A file the helper opened for the prober. The prober can never name a path: it can only ask
/// for one of the files the user named on the command line to be opened again (on reload).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReopenFile {
    /// The `-g` config file.
    Config,
    /// The n-th `-O dnp=` file, in command-line order.
    DoNotProbe(u16),
    /// `/etc/resolv.conf`, for the default nameserver.
    ResolvConf,
}

/// Every request the prober can make of the root helper. Closed on purpose: the helper matches
/// each variant against its policy, and nothing else can be asked.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// First frame on the channel.
    Hello { version: u32 },
    /// Raw ICMP (IPv4, with `IP_HDRINCL`) or raw ICMPv6 socket.
    OpenIcmp { family: Family },
    /// Header-included raw IP socket (`IPPROTO_RAW`): every probe of every method is sent as a
    /// complete IP packet built by the prober.
    OpenRawIp { family: Family },
    /// Datalink socket bound to an interface (AF_PACKET on Linux, /dev/bpf on FreeBSD).
    OpenDatalink { ifindex: u32 },
    /// Routing socket (netlink route on Linux, PF_ROUTE on FreeBSD).
    OpenRouteSocket,
    /// The `-U` listening socket: the path comes from the command line, not from the prober.
    BindControlUnix,
    /// The `-P` listening socket, likewise.
    BindControlTcp,
    /// Open one of the configured files again, read-only.
    Reopen { file: ReopenFile },
    /// Add a deny rule for the inbound side of a crafted connection (tbit, sting).
    FirewallAdd {
        slot: u32,
        proto: FwProto,
        src: IpAddr,
        dst: IpAddr,
        sport: u16,
        dport: u16,
    },
    /// Remove the rule in `slot`.
    FirewallDelete { slot: u32 },
    /// The prober dropped its privileges and opened its sockets: the service is up.
    Ready,
    /// The prober finished a reload asked for by [`FromHelper::Reload`].
    Reloaded { ok: bool },
}

impl Request {
    /// Short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Hello { .. } => "hello",
            Request::OpenIcmp { .. } => "open-icmp",
            Request::OpenRawIp { .. } => "open-rawip",
            Request::OpenDatalink { .. } => "open-datalink",
            Request::OpenRouteSocket => "open-route",
            Request::BindControlUnix => "bind-control-unix",
            Request::BindControlTcp => "bind-control-tcp",
            Request::Reopen { .. } => "reopen",
            Request::FirewallAdd { .. } => "firewall-add",
            Request::FirewallDelete { .. } => "firewall-delete",
            Request::Ready => "ready",
            Request::Reloaded { .. } => "reloaded",
        }
    }

    /// True if a successful reply to this request carries a descriptor.
    pub fn replies_with_fd(&self) -> bool {
        !matches!(
            self,
            Request::Hello { .. }
                | Request::FirewallAdd { .. }
                | Request::FirewallDelete { .. }
                | Request::Ready
                | Request::Reloaded { .. }
        )
    }
}

/// Why the helper refused a request.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request is outside policy (bad interface, slot outside the `-F` range, ...).
    Policy(String),
    /// The operation is not available on this system (e.g. firewall rules on Linux).
    Unsupported,
    /// The system call failed with this errno.
    Errno(i32),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Policy(why) => write!(f, "refused by policy: {why}"),
            Refusal::Unsupported => write!(f, "not supported on this system"),
            Refusal::Errno(e) => write!(f, "{}", std::io::Error::from_raw_os_error(*e)),
        }
    }
}

/// Everything the helper sends to the prober.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum FromHelper {
    /// Answer to `Hello`.
    Hello { version: u32 },
    /// The request succeeded; if it replies with a descriptor, exactly one is attached.
    Done,
    /// The request failed.
    Refused(Refusal),
    /// Unsolicited: SIGHUP arrived; reload config and do-not-probe files (via `Reopen`).
    Reload,
    /// Unsolicited: SIGINT/SIGTERM arrived; flush completed results and exit.
    Exit,
}
