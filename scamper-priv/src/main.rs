//! `scamper`: the entry point and the root helper. It parses the command line, opens what the
//! user named with the user's rights, forks the prober (which confines itself and runs the
//! engine), and then serves the prober's privileged requests until it exits.
#![forbid(unsafe_code)]

mod helper;
mod ids;
mod log;
mod notify;
mod startup;

use helper::policy::{FirewallSlots, Policy};
use helper::{Ending, Helper, SignalPipes};
use ids::Identity;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::unistd::User;
use scamper_probe::engine::{EngineParams, Input};
use scamper_probe::options::{
    self, ControlSockets, Firewall, InputFile, Mode, Options, OutFile, RunOptions,
};
use scamper_probe::remote;
use scamper_probe::sandbox::{self, SandboxSpec};
use std::io::IsTerminal;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

/// Freed small blocks are cached per thread in front of malloc: the prober frees a dozen per
/// task in bursts that overflow glibc's own small cache.
#[global_allocator]
static ALLOC: scamper_sys::alloc_cache::CachingAlloc =
    scamper_sys::alloc_cache::CachingAlloc::new();

/// scamper exits with -1 on start-up errors.
const EXIT_STARTUP: u8 = 255;

/// Where the prober is confined, and as whom. Packagers set other defaults at build time; at run
/// time only a caller whose real uid is root (a service manager, an administrator) may override
/// them with SCAMPER_CHROOT / SCAMPER_USER — never the user of a setuid install.
const CHROOT_DIR: &str = match option_env!("SCAMPER_PRIVSEP_DIR") {
    Some(d) => d,
    None => "/var/empty",
};
const PRIVSEP_USER: &str = match option_env!("SCAMPER_PRIVSEP_USER") {
    Some(u) => u,
    None => "nobody",
};

struct Confinement {
    dir: PathBuf,
    user: String,
}

fn confinement_from_env() -> Confinement {
    let root_caller = nix::unistd::getuid().is_root();
    let pick = |var: &str, default: &str| -> String {
        match std::env::var(var) {
            Ok(v) if root_caller && !v.is_empty() => v,
            _ => default.to_string(),
        }
    };
    Confinement {
        dir: PathBuf::from(pick("SCAMPER_CHROOT", CHROOT_DIR)),
        user: pick("SCAMPER_USER", PRIVSEP_USER),
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("scamper: {msg}");
    ExitCode::from(EXIT_STARTUP)
}

fn main() -> ExitCode {
    // Most of the binary is code this process never runs; map only what it does run (see
    // scamper_sys::lazy_code). The prober is a fork and starts its own.
    let lazy_code = scamper_sys::lazy_code::LazyCode::start();
    let confinement = confinement_from_env();
    startup::sanitise_environment();
    if let Err(e) = startup::ensure_std_fds() {
        return fail(format!("could not open /dev/null: {e}"));
    }
    let id = match Identity::lower_at_start() {
        Ok(id) => id,
        Err(e) => return fail(format!("could not lower privileges: {e}")),
    };
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let opts = match options::parse(&args) {
        Ok(Options::Help) => {
            eprint!("{}", options::usage_text());
            return ExitCode::from(EXIT_STARTUP);
        }
        Ok(Options::Version) => {
            println!("{}", options::version_text());
            return ExitCode::SUCCESS;
        }
        Ok(Options::Run(opts)) => *opts,
        Err(e) => return fail(e),
    };
    if let Err(e) = options::check_stdout_format(&opts, std::io::stdout().is_terminal()) {
        return fail(e);
    }
    if let Err(e) = refuse_unimplemented(&opts) {
        return fail(e);
    }
    // With -i and -I a command that does not parse aborts start-up, as in scamper.
    for c in scamper_probe::input::positional_commands(&opts).unwrap_or_default() {
        if let Err(e) = scamper_probe::command::parse(&c) {
            return fail(format!("{c}: {e}"));
        }
    }
    match run(id, opts, confinement, lazy_code) {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

/// Options whose behaviour belongs to later work fail loudly rather than being ignored.
fn refuse_unimplemented(opts: &RunOptions) -> Result<(), String> {
    let x = &opts.extra;
    for (set, name) in [
        (x.planetlab, "planetlab"),
        (x.icmp_rxerr, "icmp-rxerr"),
        (x.ring == Some(true), "ring"),
        (x.dyn_filter, "dyn-filter"),
    ] {
        if set {
            return Err(format!("-O {name} is not yet supported by scamper-rs"));
        }
    }
    Ok(())
}

fn run(
    id: Identity,
    opts: RunOptions,
    confinement: Confinement,
    lazy_code: scamper_sys::lazy_code::LazyCode,
) -> Result<ExitCode, String> {
    let mut lazy_code = lazy_code;
    if opts.daemon {
        // Without a syslog daemon (containers, minimal systems) a daemon still runs; it then
        // logs only to the -d debug file, if any.
        if let Err(e) = scamper_probe::log::use_syslog("scamper") {
            eprintln!("scamper: syslog unavailable ({e}); logging to the -d file only");
            scamper_probe::log::quiet_stderr();
        }
        nix::unistd::daemon(true, false).map_err(|e| format!("daemon: {e}"))?;
        // daemon() forked: this child has its own address space to register.
        lazy_code = scamper_sys::lazy_code::LazyCode::start();
    }

    // Everything the user named is opened now, with the user's rights.
    let output: Box<dyn std::io::Write + Send> = match &opts.outfile {
        OutFile::Stdout => Box::new(std::io::stdout()),
        // Not buffered here: the engine buffers whatever it is given (a second 64 KiB buffer
        // would only cost memory and a copy).
        OutFile::Path(p) => Box::new(
            startup::open_output(&id, p, false)
                .map_err(|e| format!("could not open {}: {e}", p.display()))?,
        ),
    };
    if let Some(p) = &opts.debug_file {
        let f = startup::open_output(&id, p, opts.extra.debugfile_append)
            .map_err(|e| format!("could not open {}: {e}", p.display()))?;
        scamper_probe::log::set_debug_file(f);
    }
    let input = match &opts.mode {
        Mode::File(InputFile::Path(p)) => {
            let f = startup::open_input(&id, p)
                .map_err(|e| format!("could not open {}: {e}", p.display()))?;
            let regular = f.metadata().map(|m| m.is_file()).unwrap_or(false);
            let reader = Box::new(std::io::BufReader::new(f));
            if regular {
                Input::RegularFile(reader)
            } else {
                Input::Stream(reader)
            }
        }
        Mode::File(InputFile::Stdin) => {
            Input::Stream(Box::new(std::io::BufReader::new(std::io::stdin())))
        }
        Mode::Addresses(_) | Mode::Commands(_) => Input::Args,
        Mode::Control(_) => Input::None,
    };
    let read_all = |p: &PathBuf| -> Result<Vec<u8>, String> {
        use std::io::Read;
        let mut buf = Vec::new();
        startup::open_input(&id, p)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .map_err(|e| format!("could not read {}: {e}", p.display()))?;
        Ok(buf)
    };
    let config = match &opts.config_file {
        Some(p) => scamper_probe::reload::parse_config(&read_all(p)?)
            .map_err(|e| format!("{}: {e}", p.display()))?,
        None => Default::default(),
    };
    let mut dnp_texts = Vec::new();
    for p in &opts.extra.dnp_files {
        dnp_texts.push((p.display().to_string(), read_all(p)?));
    }
    let dnp = scamper_probe::reload::parse_dnp(&dnp_texts)?;
    // -R: the controller's name is resolved and the TLS material read now, with the user's
    // rights; the confined prober can do neither.
    let remote = match &opts.mode {
        Mode::Control(ControlSockets {
            remote: Some(r), ..
        }) => {
            let mut cfg = remote::RemoteConfig::new(r.host.clone(), r.port);
            cfg.addrs = remote::resolve(&r.host, r.port)
                .map_err(|e| format!("-R {}:{}: {e}", r.host, r.port))?;
            cfg.monitor_name = opts.monitor_name.clone();
            let x = &opts.extra;
            cfg.tls = if x.notls || x.notls_remote {
                None
            } else {
                Some(
                    remote::TlsSettings::load(
                        x.cafile.as_deref(),
                        x.client_certfile.as_deref(),
                        x.client_privfile.as_deref(),
                    )
                    .map_err(|e| format!("-R: {e}"))?,
                )
            };
            Some(cfg)
        }
        _ => None,
    };
    // The nameserver for -O ptr: -n, else the first one in resolv.conf (unreadable once
    // confined).
    let nameserver = opts
        .nameserver
        .map(|a| std::net::SocketAddr::new(a, 53))
        .or_else(|| {
            std::fs::read_to_string("/etc/resolv.conf")
                .ok()
                .and_then(|t| scamper_probe::dns::nameserver_from_resolv_conf(&t))
        });
    let pidfile = match &opts.pid_file {
        Some(p) => {
            Some(startup::PidFile::create(&id, p).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => None,
    };

    // From here on we need root: the chroot, the user switch and the helper's sockets.
    id.raise()
        .map_err(|e| format!("could not regain privileges: {e}"))?;
    if !nix::unistd::geteuid().is_root() {
        return Err("scamper must be started as root or installed setuid root".into());
    }
    let chroot_dir = confinement.dir;
    sandbox::prepare_chroot_dir(&chroot_dir).map_err(|e| e.to_string())?;
    let name = confinement.user;
    let user = User::from_name(&name)
        .map_err(|e| format!("looking up {name}: {e}"))?
        .ok_or_else(|| format!("no user {name}"))?;
    if user.uid.is_root() {
        return Err(format!("the prober's user {name} must not be root"));
    }
    let spec = SandboxSpec {
        chroot_dir,
        uid: user.uid,
        gid: user.gid,
    };
    drop(user);

    let (helper_end, prober_end) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    // Signals wait until each side has its own handling in place.
    let mut relayed = SigSet::empty();
    for s in [Signal::SIGHUP, Signal::SIGTERM, Signal::SIGINT] {
        relayed.add(s);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&relayed), None).map_err(|e| e.to_string())?;

    match scamper_sys::fork_single_threaded().map_err(|e| format!("fork: {e}"))? {
        scamper_sys::Forked::Child => {
            // First: that descriptor acts on the helper's address space, not on ours.
            drop(lazy_code);
            drop(helper_end);
            drop(pidfile);
            let code = prober(
                spec, prober_end, opts, output, input, config, dnp, remote, nameserver,
            );
            // Its output is written: exit handlers, unmapping and closing are left to the
            // kernel, which does them anyway without faulting in the code they would run.
            scamper_sys::exit_now(code)
        }
        scamper_sys::Forked::Parent { child } => {
            drop(prober_end);
            drop(output);
            drop(input);
            let signals = SignalPipes::install().map_err(|e| format!("signals: {e}"))?;
            sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&relayed), None)
                .map_err(|e| e.to_string())?;
            let policy = Policy {
                control_unix: match &opts.mode {
                    Mode::Control(c) => c.unix.clone(),
                    _ => None,
                },
                control_tcp: match &opts.mode {
                    Mode::Control(c) => c.inet.as_ref().map(|i| i.socket_addr()),
                    _ => None,
                },
                config_file: opts.config_file.clone(),
                dnp_files: opts.extra.dnp_files.clone(),
                firewall: opts.firewall.as_ref().map(|f| match f {
                    Firewall::Ipfw { start, end } => FirewallSlots {
                        first: *start as u32,
                        last: *end as u32,
                    },
                    Firewall::Pf { num, .. } => FirewallSlots {
                        first: 1,
                        last: *num as u32,
                    },
                }),
            };
            let unix_path = policy.control_unix.clone();
            let helper = Helper::new(
                id,
                policy,
                helper_end,
                child,
                signals,
                notify::Notifier::from_env(),
            );
            // Start-up is over: the loop that remains needs little of what it ran.
            lazy_code.drop_resident();
            let ending = helper.run();
            lazy_code.keep_until_exit();
            if let Some(p) = unix_path {
                let _ = id.as_real_user(|| std::fs::remove_file(&p));
            }
            if let Some(p) = pidfile {
                p.remove(&id);
            }
            let code = match ending {
                Ending::ProberExited(0) => 0,
                Ending::ProberExited(code) => {
                    log::error(&format!("prober exited with status {code}"));
                    code.clamp(1, 255)
                }
                Ending::ProberKilled(sig) => {
                    log::error(&format!("prober was killed by {sig}"));
                    i32::from(EXIT_STARTUP)
                }
                Ending::ProtocolViolation(why) => {
                    log::error(&format!("stopped serving the prober: {why}"));
                    i32::from(EXIT_STARTUP)
                }
            };
            // As the prober does (above).
            scamper_sys::exit_now(code)
        }
    }
}

/// The child: confine, then run the engine. Returns the exit status.
#[allow(clippy::too_many_arguments)]
fn prober(
    spec: SandboxSpec,
    link: UnixStream,
    opts: RunOptions,
    output: Box<dyn std::io::Write + Send>,
    input: Input,
    config: scamper_probe::config_file::Config,
    dnp: scamper_probe::dnp::DoNotProbe,
    remote: Option<remote::RemoteConfig>,
    nameserver: Option<std::net::SocketAddr>,
) -> i32 {
    // A child of a fork does not inherit the parent's registration (scamper_sys::lazy_code):
    // from here on, map the binary page by page instead of 16 pages per fault. Kept through
    // the exit path, as closing it would bring back the kernel's fault-around.
    let lazy_code = scamper_sys::lazy_code::LazyCode::start();
    scamper_probe::log::set_pid(std::process::id());
    let default_sport = options::default_sport(std::process::id());
    let report = match sandbox::enter(&spec) {
        Ok(r) => r,
        Err(e) => {
            log::error(&format!("could not confine the prober: {e}"));
            return 1;
        }
    };
    // SIGHUP, SIGTERM and SIGINT stay blocked here: the helper relays them over the channel,
    // so the prober acts on them at a point of its choosing (results flushed first).
    let params = EngineParams {
        opts,
        link: link.into(),
        output,
        input,
        config,
        dnp,
        default_sport,
        nameserver,
        remote,
        sandbox_note: report.landlock,
    };
    // Confinement is done: its code pages go.
    lazy_code.drop_resident();
    let code = scamper_probe::engine::run(params);
    lazy_code.keep_until_exit();
    code
}
