//! sc_remoted: accepts `scamper -R` connections and exposes each vantage point as a unix socket
//! (`-U dir`) and through a mux socket (`-M path`). See remote.md §9 for the command line.
#![forbid(unsafe_code)]

#[path = "../remoted/mod.rs"]
mod remoted;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use remoted::hub::{self, TlsServer};
use remoted::meta::Metadata;
use remoted::opts::{self, Opts, Parsed};

fn listen_addrs(o: &Opts) -> Vec<SocketAddr> {
    match o.listen_ip {
        Some(ip) => vec![SocketAddr::new(ip, o.port)],
        None => {
            let mut v = Vec::new();
            if !o.only_v6 {
                v.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), o.port));
            }
            if !o.only_v4 {
                v.push(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), o.port));
            }
            v
        }
    }
}

/// SO_REUSEADDR, and IPV6_V6ONLY on IPv6 sockets (remote.md §3).
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.bind(&addr.into())?;
    s.listen(128)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

fn load_meta(path: &Path) -> Result<Metadata, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Metadata::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn load_tls(o: &Opts) -> Result<Option<TlsServer>, String> {
    let (Some(c), Some(k)) = (&o.cert_file, &o.key_file) else {
        return Ok(None);
    };
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let ca = o.ca_file.as_deref().map(read).transpose()?;
    let cfg = hub::tls_server_config(&read(c)?, &read(k)?, ca.as_deref())?;
    Ok(Some(TlsServer {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(cfg)),
        client_ca: o.ca_file.is_some(),
        skip_name_verification: o.flags.skipnameverification,
    }))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match opts::parse(&args) {
        Ok(Parsed::Run(o)) => *o,
        Ok(Parsed::Version) => {
            println!("sc_remoted version {}", opts::VERSION);
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Help) => {
            eprintln!("{}", opts::USAGE);
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("sc_remoted: {e}\n{}", opts::USAGE);
            return ExitCode::FAILURE;
        }
    };
    match run(o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sc_remoted: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(o: Opts) -> Result<(), String> {
    if let Some(dir) = &o.chroot {
        nix::unistd::chroot(dir).map_err(|e| format!("chroot {}: {e}", dir.display()))?;
        std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))?;
    }
    if let Some(d) = &o.unix_dir {
        if !d.is_dir() {
            return Err(format!("{} is not a directory", d.display()));
        }
    }
    let meta = match &o.meta_file {
        Some(p) => load_meta(p)?,
        None => Metadata::default(),
    };
    let tls = load_tls(&o)?;
    let listeners = listen_addrs(&o)
        .into_iter()
        .map(|a| bind(a).map_err(|e| format!("could not listen on {a}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if o.daemon {
        // Before any thread exists: the runtime is built afterwards.
        nix::unistd::daemon(true, false).map_err(|e| format!("daemon: {e}"))?;
    }
    if let Some(p) = &o.pid_file {
        std::fs::write(p, format!("{}\n", std::process::id()))
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let r = rt.block_on(serve(&o, meta, tls, listeners));
    if let Some(p) = &o.pid_file {
        let _ = std::fs::remove_file(p);
    }
    r
}

async fn serve(
    o: &Opts,
    meta: Metadata,
    tls: Option<TlsServer>,
    listeners: Vec<std::net::TcpListener>,
) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut mode = 0o700;
    if o.flags.allowgroup {
        mode |= 0o070;
    }
    if o.flags.allowother {
        mode |= 0o007;
    }
    let timers = hub::Timers {
        zombie: std::time::Duration::from_secs(u64::from(o.zombie_secs)),
        ..Default::default()
    };
    let cfg = hub::Config {
        unix_dir: o.unix_dir.clone(),
        mux_path: o.mux_socket.clone(),
        socket_mode: mode,
        tls,
        meta,
        timers,
        debug: o.flags.debug && !o.daemon,
        times: !o.flags.notimes,
    };
    let listeners = listeners
        .into_iter()
        .map(tokio::net::TcpListener::from_std)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let debug = cfg.debug;
    let handle = hub::start(cfg, listeners).map_err(|e| format!("could not start: {e}"))?;
    if debug {
        for a in &handle.local_addrs {
            eprintln!("listening on {a}");
        }
    }
    let sig = |k| signal(k).map_err(|e| format!("signal: {e}"));
    let (mut hup, mut int, mut term) = (
        sig(SignalKind::hangup())?,
        sig(SignalKind::interrupt())?,
        sig(SignalKind::terminate())?,
    );
    // Runs until SIGINT / SIGTERM.
    loop {
        tokio::select! {
            _ = hup.recv() => {
                // An invalid metadata file keeps the old data; same for TLS credentials.
                let meta = o.meta_file.as_deref().and_then(|p| match load_meta(p) {
                    Ok(m) => Some(m),
                    Err(e) => { if !o.daemon { eprintln!("sc_remoted: {e}"); } None }
                });
                let tls = match load_tls(o) {
                    Ok(t) => t,
                    Err(e) => { if !o.daemon { eprintln!("sc_remoted: {e}"); } None }
                };
                handle.reload(meta, tls).await;
            }
            _ = int.recv() => break,
            _ = term.recv() => break,
        }
    }
    handle.shutdown().await;
    Ok(())
}
