//! The engine's side of control clients: interactive commands, attaching (a client becomes a
//! source), measurement commands and halts from attached clients, and what happens when a client
//! finishes, goes away or stops reading.

use super::sink::{ClientSink, Sink};
use super::sources::{Feed, Queued, Source, SourceId};
use super::{new_cycle, now, tag, Engine};
use crate::control::protocol::{
    self as proto, reply, AttachParams, Attached, GetKey, GetValue, Interactive, RemoteCommand,
    SetCommand, ShutdownMode, SourceInfo, SourceKind, OUTPUT_QUEUE_LIMIT,
};
use crate::control::server::{self, ClientEvent, ClientShared};
use crate::control::ClientConn;
use crate::log;
use scamper_warts::List;
use std::sync::Arc;

pub struct Client {
    shared: Arc<ClientShared>,
    name_hint: String,
    state: State,
}

enum State {
    Interactive,
    Attached(SourceId),
    /// Finished or refused: output is flushed, input ignored.
    Closing,
}

impl Engine {
    pub(super) fn add_client(&mut self, conn: ClientConn) {
        self.next_client += 1;
        let id = self.next_client;
        let pre_attached = conn.pre_attached;
        let name_hint = conn.name_hint.clone();
        let shared = server::spawn_client(conn, id, self.client_events_tx.clone());
        self.clients.insert(
            id,
            Client {
                shared,
                name_hint,
                state: State::Interactive,
            },
        );
        if pre_attached {
            // Remote channels behave as if `attach` (warts) had been sent, without the reply.
            if let Err(e) = self.attach(id, AttachParams::default()) {
                log::warn(&format!("remote channel refused: {e}"));
                self.close_client(id, false);
            }
        }
    }

    fn say(&self, id: u64, line: impl AsRef<str>) {
        if let Some(c) = self.clients.get(&id) {
            c.shared.push(|q| q.push_line(line));
        }
    }

    pub(super) fn on_client_event(&mut self, id: u64, ev: ClientEvent) {
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        match (ev, &client.state) {
            (_, State::Closing) => {}
            (ClientEvent::Eof, _) => self.close_client(id, true),
            (ClientEvent::BadLine(e), _) => {
                self.say(id, e.reply().line());
                self.close_client(id, true);
            }
            (ClientEvent::Line(line), State::Interactive) => self.on_interactive(id, &line),
            (ClientEvent::Line(line), State::Attached(sid)) => {
                let sid = *sid;
                self.on_attached(id, sid, &line)
            }
        }
    }

    /// Stop serving a client. With `abandon`, its source's queued and running tasks are dropped
    /// without results; output already queued is still written, then the connection closes.
    fn close_client(&mut self, id: u64, abandon: bool) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        let state = std::mem::replace(&mut client.state, State::Closing);
        client.shared.close_after_flush();
        if let (State::Attached(sid), true) = (state, abandon) {
            self.abandon_source(sid);
        }
        self.clients.remove(&id);
    }

    fn abandon_source(&mut self, sid: SourceId) {
        let t = now();
        let tags: Vec<u64> = self
            .running
            .keys()
            .filter(|&&g| super::untag(g).0 == sid)
            .copied()
            .collect();
        for g in tags {
            if let Some(task) = self.running.remove(&g) {
                self.core.discard(task, t);
            }
        }
        self.sources.remove(sid);
    }

    fn on_interactive(&mut self, id: u64, line: &str) {
        let req = match proto::parse_interactive(line) {
            Ok(r) => r,
            Err(e) => return self.say(id, e.line()),
        };
        match req {
            Interactive::Attach(params) => match self.attach(id, params) {
                Ok(()) => self.say(id, reply::ok()),
                Err(e) => {
                    // scamper frees such a client at once; say why first.
                    self.say(id, reply::err(e));
                    self.close_client(id, false);
                }
            },
            Interactive::Exit => {
                if let Some(c) = self.clients.remove(&id) {
                    c.shared.drop_now();
                }
            }
            Interactive::Get(key) => {
                let value = match key {
                    GetKey::Command => GetValue::Command(self.opts.command.as_deref()),
                    GetKey::MonitorName => GetValue::MonitorName(self.opts.monitor_name.as_deref()),
                    GetKey::Nameserver => GetValue::Nameserver(self.opts.nameserver),
                    GetKey::Pid => GetValue::Pid(std::process::id()),
                    GetKey::Pps => GetValue::Pps(self.opts.pps),
                    GetKey::Version => GetValue::Version,
                    GetKey::Window => GetValue::Window {
                        active: self.core.active() as u32,
                        max: self.opts.window,
                    },
                };
                self.say(id, value.reply());
            }
            Interactive::Set(cmd) => {
                if let Err(e) = cmd.check_rate(self.opts.pps, self.opts.window) {
                    return self.say(id, e.line());
                }
                match &cmd {
                    SetCommand::Command(c) => self.opts.command = Some(c.clone()),
                    SetCommand::MonitorName(m) => self.opts.monitor_name = m.clone(),
                    SetCommand::Nameserver(ns) => self.opts.nameserver = Some(*ns),
                    SetCommand::Pps(p) => {
                        self.opts.pps = *p;
                        self.core.set_pps(*p, now());
                    }
                    SetCommand::Window(w) => self.opts.window = *w,
                }
                self.say(id, cmd.reply());
            }
            Interactive::SourceList(name) => {
                let infos: Vec<SourceInfo> = self
                    .sources
                    .iter()
                    .filter(|s| {
                        name.as_ref()
                            .is_none_or(|n| n.eq_ignore_ascii_case(&s.name))
                    })
                    .map(|s| SourceInfo {
                        name: s.name.clone(),
                        descr: s.list.descr.clone(),
                        list_id: s.list.id,
                        cycle_id: s.cycle.id,
                        priority: s.priority,
                        outfile: None,
                        kind: match &s.feed {
                            Feed::Client { .. } => SourceKind::Control,
                            Feed::Lines { .. } => match &self.input_file {
                                Some(f) => SourceKind::File(f.clone()),
                                None => SourceKind::Cmdline,
                            },
                        },
                    })
                    .collect();
                if let (Some(n), true) = (&name, infos.is_empty()) {
                    return self.say(id, reply::no_source(n));
                }
                for info in infos {
                    self.say(id, info.info_line());
                }
                self.say(id, reply::ok());
            }
            Interactive::Shutdown(mode) => {
                match mode {
                    ShutdownMode::Done => self.exit_when_done = true,
                    ShutdownMode::Cancel => self.exit_when_done = false,
                    ShutdownMode::Flush => {
                        for s in self.sources.iter_mut() {
                            s.queue.retain(|q| matches!(q, Queued::CycleStart));
                            s.done = true;
                        }
                        self.exit_when_done = true;
                    }
                    ShutdownMode::Now => self.exit_now = true,
                }
                self.say(id, reply::ok());
            }
            Interactive::Remote(cmd) => self.on_remote(id, cmd),
            Interactive::LssClear(name) => {
                let cleared = self
                    .stop_sets
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .local
                    .remove(&name)
                    .is_some();
                self.say(
                    id,
                    if cleared {
                        reply::ok_lss_clear(&name)
                    } else {
                        reply::err(format!("lss-clear {name} failed"))
                    },
                );
            }
        }
    }

    /// `remote add|delete|list`. Only address literals can be added at run time: the
    /// confined prober has no resolver files to look a name up with.
    fn on_remote(&mut self, id: u64, cmd: RemoteCommand) {
        match cmd {
            RemoteCommand::List => {
                for r in &self.remotes {
                    let server = proto::RemoteServer {
                        host: r.host.clone(),
                        port: r.port,
                    };
                    self.say(id, reply::info_remote(&server, None));
                }
                self.say(id, reply::ok());
            }
            RemoteCommand::Add { server, .. } => {
                if self
                    .remotes
                    .iter()
                    .any(|r| r.host == server.host && r.port == server.port)
                {
                    return self.say(id, reply::err(format!("{server} already exists")));
                }
                let addrs = match crate::remote::resolve(&server.host, server.port) {
                    Ok(a)
                        if server.host.parse::<std::net::IpAddr>().is_ok()
                            || server.host.starts_with('[') =>
                    {
                        a
                    }
                    _ => return self.say(id, reply::err("could not add remote")),
                };
                let mut cfg = crate::remote::RemoteConfig::new(server.host.clone(), server.port);
                cfg.addrs = addrs;
                cfg.monitor_name = self.opts.monitor_name.clone();
                let remote = super::spawn_remote(cfg, self.new_clients_tx.clone());
                self.remotes.push(remote);
                self.say(id, reply::ok());
            }
            RemoteCommand::Delete(arg) => {
                if self.remotes.is_empty() {
                    return self.say(id, reply::err("no remote connections"));
                }
                let server = match proto::RemoteServer::parse_delete(arg.as_deref()) {
                    Ok(s) => s,
                    Err(e) => return self.say(id, e.line()),
                };
                match self
                    .remotes
                    .iter()
                    .position(|r| r.host == server.host && r.port == server.port)
                {
                    Some(i) => {
                        self.remotes.remove(i).task.abort();
                        self.say(id, reply::ok());
                    }
                    None => self.say(id, reply::err(format!("{server} not found"))),
                }
            }
        }
    }

    /// Make client `id` a source.
    fn attach(&mut self, id: u64, params: AttachParams) -> Result<(), String> {
        let client = self.clients.get(&id).ok_or("client gone")?;
        let name = params
            .name
            .clone()
            .unwrap_or_else(|| client.name_hint.clone());
        if self
            .sources
            .iter()
            .any(|s| s.name.eq_ignore_ascii_case(&name))
        {
            return Err("internal error".into());
        }
        let list = Arc::new(List {
            id: params.list_id,
            name: name.clone(),
            descr: params.descr.clone(),
            monitor: params
                .monitor
                .clone()
                .or_else(|| self.opts.monitor_name.clone()),
        });
        let cycle = new_cycle(&list, params.cycle_id, now(), &self.hostname);
        let sink = ClientSink::new(params.format, client.shared.clone())?;
        let mut source = Source::new(
            name,
            list,
            cycle,
            params.priority,
            Feed::Client { client: id },
            Sink::Client(sink),
        );
        source.queue.push_back(Queued::CycleStart);
        let sid = self.sources.add(source);
        if let Some(c) = self.clients.get_mut(&id) {
            c.state = State::Attached(sid);
        }
        self.wake.notify_one();
        Ok(())
    }

    fn on_attached(&mut self, id: u64, sid: SourceId, line: &str) {
        let req = match proto::parse_attached(line) {
            Ok(r) => r,
            Err(e) => return self.say(id, e.line()),
        };
        match req {
            Attached::Done => {
                if let Some(s) = self.sources.get(sid) {
                    s.done = true;
                }
                self.say(id, reply::ok());
            }
            Attached::Command(text) => match self.make_task(&text, sid, now()) {
                Ok(task) => {
                    let Some(src) = self.sources.get(sid) else {
                        return;
                    };
                    let task_id = src.next_task_id();
                    src.queue.push_back(Queued::Task { id: task_id, task });
                    self.say(id, reply::ok_id(task_id));
                    self.wake.notify_one();
                }
                Err(reason) => self.say(id, reply::not_accepted(Some(&reason))),
            },
            Attached::Halt(task_id) => {
                let t = now();
                if let Some(task) = self.running.remove(&tag(sid, task_id)) {
                    self.core.halt(task, t);
                    self.say(id, reply::ok_halted(task_id));
                    return;
                }
                let Some(src) = self.sources.get(sid) else {
                    return;
                };
                let pos = src
                    .queue
                    .iter()
                    .position(|q| matches!(q, Queued::Task { id, .. } if *id == task_id));
                match pos.and_then(|p| src.queue.remove(p)) {
                    Some(Queued::Task { task, .. }) => {
                        // Never started: its record says so, and the client still gets it.
                        let record = task.finish(t);
                        self.say(id, reply::ok_halted(task_id));
                        self.write(sid, &record, Some(task_id));
                    }
                    _ => self.say(id, reply::no_task(task_id)),
                }
            }
        }
    }

    /// After writing to a client sink: a client that lets this much output pile up has
    /// stopped reading and is dropped alone, so it cannot hold the others back.
    pub(super) fn check_backlog(&mut self, sid: SourceId, queued: usize) {
        if queued <= OUTPUT_QUEUE_LIMIT {
            return;
        }
        let Some(Source {
            feed: Feed::Client { client },
            ..
        }) = self.sources.get(sid)
        else {
            return;
        };
        let client = *client;
        log::warn(&format!(
            "dropping control client {client}: {queued} bytes unread"
        ));
        if let Some(c) = self.clients.remove(&client) {
            c.shared.drop_now();
        }
        self.abandon_source(sid);
    }

    /// A client source took its last queued command: tell it to send more, unless it said done.
    pub(super) fn maybe_more(&mut self, sid: SourceId) {
        let Some(src) = self.sources.get(sid) else {
            return;
        };
        if let (Feed::Client { client }, true, false) = (&src.feed, src.queue.is_empty(), src.done)
        {
            let client = *client;
            self.say(client, reply::more());
        }
    }

    /// A client source is finished: its connection closes once the cycle stop is written.
    pub(super) fn source_closed(&mut self, client: u64) {
        if let Some(c) = self.clients.remove(&client) {
            c.shared.close_after_flush();
        }
    }
}
