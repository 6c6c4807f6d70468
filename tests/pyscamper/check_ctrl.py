"""Checks that the Python `scamper` module's ScamperCtrl drives scamper-rs unchanged.

Run by run.sh inside the lab's vp namespace, against our scamper (vp1: -U, -P and -R; vp2: -R)
and our sc_remoted (-U per-VP sockets, -M mux socket). Each check uses the module as its
documentation shows and asserts on the result objects' fields (warts.md / control.md facts).
Prints one line per check and a closing "N passed, N failed" line; exits 1 on any failure.
"""

import argparse
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import traceback

from scamper import (ScamperCtrl, ScamperCycle, ScamperFile, ScamperInstError,
                     ScamperList, ScamperPing, ScamperTrace)

SEC = datetime.timedelta(seconds=1)

# libscamperctrl 20260420 forgets an instance that reached EOF without detaching it from its
# ScamperCtrl: if that ScamperInst is freed after the ScamperCtrl, scamper_inst_free touches the
# freed control structure (abort in mjl_list.c). Checks that reach EOF therefore drop every
# reference to their instances (results hold one too) before the ScamperCtrl goes.
ARGS = None
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def ctrl_unix(**kw):
    return ScamperCtrl(unix=ARGS.unix, **kw)


def check_ping_v4(o, attempts, userid=None):
    assert isinstance(o, ScamperPing), type(o)
    assert str(o.dst) == ARGS.target4, o.dst
    assert str(o.src) == ARGS.src4, o.src
    assert o.attempts == attempts, o.attempts
    assert o.probe_count == attempts, o.probe_count
    assert o.stop_reason_str == "done", o.stop_reason_str
    if userid is not None:
        assert o.userid == userid, o.userid
    replies = [r for r in o.replies() if r is not None]
    assert len(replies) == attempts, replies
    assert o.nreplies == attempts, o.nreplies
    assert o.nloss == 0, o.nloss
    assert o.min_rtt is not None and o.min_rtt <= o.avg_rtt <= o.max_rtt
    assert o.min_rtt < datetime.timedelta(seconds=1), o.min_rtt
    for r in replies:
        assert r.is_from_target(), r.src
        assert r.is_icmp_echo_reply(), (r.icmp_type, r.icmp_code)
        assert str(r.src) == ARGS.target4
        # one router between vp and target: the target's 64 arrives as 63
        assert r.reply_ttl == 63, r.reply_ttl
        assert r.rtt is not None and r.rtt >= datetime.timedelta(0)
        assert r.tx is not None and r.rx is not None and r.rx >= r.tx
    assert o.start is not None
    assert o.start.tzinfo is not None


@check
def unix_sync_ping():
    """ScamperCtrl(unix=...), a single instance, do_ping(sync=True) as the docs show."""
    ctrl = ctrl_unix()
    assert ctrl.instc == 1
    [inst] = ctrl.instances()
    assert inst.name is not None
    o = ctrl.do_ping(ARGS.target4, attempts=3, wait_probe=datetime.timedelta(
        milliseconds=200), userid=77, sync=True)
    check_ping_v4(o, 3, userid=77)
    assert o.inst == inst
    assert o.wait_probe == datetime.timedelta(milliseconds=200), o.wait_probe
    assert ctrl.taskc == 0
    # The manual's defaults for what the command did not say.
    assert o.is_icmp() and not o.is_udp() and not o.is_tcp()
    assert o.probe_ttl == 64 and o.probe_tos == 0, (o.probe_ttl, o.probe_tos)
    assert o.probe_size == 84, o.probe_size  # 20 IP + 8 ICMP + 56 bytes of payload
    assert o.wait_timeout == SEC, o.wait_timeout
    assert o.stop_count == 0, o.stop_count
    assert o.ndups == 0 and o.nerrs == 0
    for r in o.replies():
        assert r.reply_size == 84 and r.reply_proto == 1, (r.reply_size, r.reply_proto)
        assert r.icmp_type == 0 and r.icmp_code == 0
    assert [r.attempt for r in o.replies()] == [0, 1, 2] or \
        [r.attempt for r in o.replies()] == [1, 2, 3], [r.attempt for r in o.replies()]


@check
def unix_sync_trace():
    """do_trace(sync=True): two hops, the router then the target."""
    ctrl = ctrl_unix()
    o = ctrl.do_trace(ARGS.target4, wait_timeout=datetime.timedelta(seconds=2), sync=True)
    assert isinstance(o, ScamperTrace), type(o)
    assert str(o.dst) == ARGS.target4 and str(o.src) == ARGS.src4
    assert o.is_stop_completed(), o.stop_reason_str
    assert o.hop_count == 2, o.hop_count
    hops = list(o.hops())
    assert len(hops) == 2, hops
    assert str(hops[0].src) == ARGS.hop1 and hops[0].is_icmp_ttl_exp(), hops[0]
    assert hops[0].probe_ttl == 1
    assert str(hops[1].src) == ARGS.target4, hops[1].src
    assert hops[1].probe_ttl == 2
    assert hops[1].is_icmp_unreach_port() or hops[1].is_icmp_echo_reply()
    assert o.wait_timeout == datetime.timedelta(seconds=2), o.wait_timeout
    # The manual's defaults: udp-paris, two attempts, one hop at a time, gap limit 5, dport 33435.
    assert o.is_udp(), "default method udp-paris"
    assert o.attempts == 2 and o.squeries == 1, (o.attempts, o.squeries)
    assert o.firsthop == 1 and o.gaplimit == 5, (o.firsthop, o.gaplimit)
    assert o.probe_dport == 33435, o.probe_dport
    assert o.tos == 0 and o.wait_probe == datetime.timedelta(0), (o.tos, o.wait_probe)
    assert o.stop_hop == 0 or o.stop_hop is None or o.stop_hop == 2, o.stop_hop
    assert hops[0].reply_ttl == 64 and hops[1].reply_ttl == 63, (hops[0].reply_ttl,
                                                                 hops[1].reply_ttl)
    assert all(h.rtt is not None and h.rtt >= datetime.timedelta(0) for h in hops)
    assert [str(a) for a in o.addrs()] == sorted([ARGS.hop1, ARGS.target4]) or \
        sorted(str(a) for a in o.addrs()) == sorted([ARGS.hop1, ARGS.target4])


@check
def async_responses_and_userids():
    """Several async tasks on one instance; responses() returns each exactly once."""
    ctrl = ctrl_unix()
    tasks = [
        ctrl.do_ping(ARGS.target4, attempts=2, userid=1),
        ctrl.do_ping(ARGS.target6, attempts=2, userid=2),
        ctrl.do_trace(ARGS.target4, userid=3),
        ctrl.do_trace(ARGS.target6, userid=4),
    ]
    assert len(set(tasks)) == 4
    assert ctrl.taskc == 4, ctrl.taskc
    got = {}
    for o in ctrl.responses(timeout=30 * SEC):
        got[o.userid] = o
    assert sorted(got) == [1, 2, 3, 4], sorted(got)
    assert ctrl.taskc == 0
    assert str(got[2].dst) == ARGS.target6 and got[2].nreplies == 2
    assert isinstance(got[3], ScamperTrace) and got[3].hop_count == 2
    assert isinstance(got[4], ScamperTrace) and str(got[4].dst) == ARGS.target6
    assert got[4].is_stop_completed(), got[4].stop_reason_str
    assert list(ctrl.exceptions()) == []


@check
def ping_parameters_reach_the_result():
    """do_ping's optional parameters, as the module turns them into options, in the result."""
    ctrl = ctrl_unix()
    ms = datetime.timedelta(milliseconds=1)
    o = ctrl.do_ping(ARGS.target4, attempts=2, wait_probe=100 * ms, wait_timeout=SEC,
                     ttl=32, tos=0x20, size=128, icmp_id=4321, icmp_seq=7, sync=True)
    assert o.probe_ttl == 32 and o.probe_tos == 0x20, (o.probe_ttl, o.probe_tos)
    assert o.probe_size == 128, o.probe_size
    assert o.probe_sport is None  # the module reports ports for TCP and UDP pings only
    assert o.nreplies == 2, o.nreplies
    r = [r for r in o.replies() if r is not None]
    assert all(x.reply_size == 128 for x in r), [x.reply_size for x in r]

    # -B: the whole payload; the probe is 20 + 8 + 16 bytes (scamper refuses a -s that
    # disagrees, as ours does)
    o = ctrl.do_ping(ARGS.target4, attempts=1, payload=bytes(range(16)), sync=True)
    assert o.payload is not None and bytes(o.payload) == bytes(range(16)), o.payload
    assert o.probe_size == 44 and o.nreplies == 1, (o.probe_size, o.nreplies)

    # a TTL that expires at the router: the answer is time exceeded from r1
    o = ctrl.do_ping(ARGS.target4, attempts=1, ttl=1, sync=True)
    [r] = [r for r in o.replies() if r is not None]
    assert r.is_icmp_ttl_exp() and str(r.src) == ARGS.hop1, (r.icmp_type, r.src)
    assert not r.is_from_target()

    # UDP to a closed port: port unreachable from the target
    o = ctrl.do_ping(ARGS.target4, attempts=1, method="udp", dport=33434, sync=True)
    assert o.is_udp(), o
    [r] = [r for r in o.replies() if r is not None]
    assert r.is_icmp_unreach_port() and r.is_from_target(), (r.icmp_type, r.icmp_code)

    # TCP SYN to a closed port: RST from the target
    o = ctrl.do_ping(ARGS.target4, attempts=1, method="tcp-syn", dport=81, sync=True)
    assert o.is_tcp() and o.probe_dport == 81, (o.is_tcp(), o.probe_dport)
    [r] = [r for r in o.replies() if r is not None]
    assert r.is_tcp() and r.tcp_flags & 0x04, r.tcp_flags

    # IP record route: the reply carries the option's addresses
    o = ctrl.do_ping(ARGS.target4, attempts=1, recordroute=True, sync=True)
    assert o.nreplies == 1, o.nreplies


@check
def trace_parameters_reach_the_result():
    """do_trace's optional parameters in the result."""
    ctrl = ctrl_unix()
    o = ctrl.do_trace(ARGS.target4, method="icmp-paris", attempts=1, firsthop=1,
                      gaplimit=3, loops=1, hoplimit=10, squeries=2, tos=8,
                      wait_timeout=SEC, wait_probe=datetime.timedelta(milliseconds=20),
                      sync=True)
    assert o.is_icmp() and o.attempts == 1, (o.is_icmp(), o.attempts)
    assert (o.gaplimit, o.hoplimit, o.squeries, o.tos) == (3, 10, 2, 8), \
        (o.gaplimit, o.hoplimit, o.squeries, o.tos)
    assert o.wait_probe == datetime.timedelta(milliseconds=20), o.wait_probe
    assert o.hop_count == 2 and o.is_stop_completed(), (o.hop_count, o.stop_reason_str)
    hops = [h for h in o.hops() if h is not None]
    assert hops[-1].is_icmp_echo_reply(), hops[-1]

    o = ctrl.do_trace(ARGS.target4, method="tcp", dport=80, firsthop=2, sync=True)
    assert o.is_tcp() and o.probe_dport == 80 and o.firsthop == 2
    hops = [h for h in o.hops() if h is not None]
    assert [h.probe_ttl for h in hops] == [2], [h.probe_ttl for h in hops]
    assert hops[0].is_tcp() and str(hops[0].src) == ARGS.target4

    o = ctrl.do_trace(ARGS.target6, method="udp-paris", all_attempts=True, attempts=2,
                      sync=True)
    assert str(o.dst) == ARGS.target6 and o.hop_count == 2, (o.dst, o.hop_count)
    # -Q: both attempts at each of the two hops (hops() gives the first reply per TTL)
    assert o.probe_count == 4, o.probe_count


@check
def poll_with_timeouts():
    """poll(timeout=) returns None when nothing is due, then the result."""
    ctrl = ctrl_unix()
    t0 = datetime.datetime.now()
    assert ctrl.poll(timeout=datetime.timedelta(milliseconds=300)) is None
    assert datetime.datetime.now() - t0 >= datetime.timedelta(milliseconds=250)
    ctrl.do_ping(ARGS.target4, attempts=1)
    o = ctrl.poll(timeout=10 * SEC)
    assert isinstance(o, ScamperPing) and o.nreplies == 1
    until = datetime.datetime.now() + datetime.timedelta(milliseconds=200)
    assert ctrl.poll(until=until) is None


@check
def bad_commands_raise_and_instance_goes_on():
    """A rejected command becomes ScamperInstError; the instance keeps working after it."""
    ctrl = ctrl_unix()
    # tracelb is a measurement scamper-rs does not do; ping -c 0 is an invalid option value.
    ctrl.do_tracelb(ARGS.target4)
    ctrl.do_ping(ARGS.target4, attempts=0)
    ok = ctrl.do_ping(ARGS.target4, attempts=1, userid=9)
    errors = []
    results = []
    end = datetime.datetime.now() + 20 * SEC
    while len(results) < 1 or len(errors) < 2:
        assert datetime.datetime.now() < end, (errors, results)
        try:
            o = ctrl.poll(timeout=5 * SEC)
        except ScamperInstError as e:
            errors.append(e)
            continue
        if o is not None:
            results.append(o)
    assert len(errors) == 2, errors
    for e in errors:
        assert "got err from" in str(e) and "command not accepted" in str(e), str(e)
        assert e.inst == ctrl.instances()[0]
    assert results[0].userid == 9 and results[0].nreplies == 1
    assert ok is not None
    assert ctrl.taskc == 0, ctrl.taskc


@check
def long_rejected_commands():
    """Errors that quote a long value stay short enough for libscamperctrl.

    The library keeps at most 128 bytes of a line split across two of its 8 KiB reads and
    fails the connection ("got fatal") on a longer one. Four rejected 3000-byte destinations
    make their ERR lines cross a read boundary.
    """
    ctrl = ctrl_unix()
    bad = "192.0.2." + "7" * 3000
    for _ in range(4):
        ctrl.do_ping(bad)
    ctrl.do_ping(ARGS.target4, attempts=1, userid=5)
    errors, results = [], []
    end = datetime.datetime.now() + 20 * SEC
    while len(errors) < 4 or len(results) < 1:
        assert datetime.datetime.now() < end, (errors, results)
        try:
            o = ctrl.poll(timeout=10 * SEC)
        except ScamperInstError as e:
            assert "got fatal" not in str(e), str(e)[:200]
            errors.append(str(e))
            continue
        if o is not None:
            results.append(o)
    for e in errors:
        assert "command not accepted" in e and "invalid destination" in e, e[:200]
    assert results[0].userid == 5 and results[0].nreplies == 1


@check
def halt_task():
    """ScamperTask.halt(): the measurement comes back in its current state, halted."""
    ctrl = ctrl_unix()
    t = ctrl.do_ping(ARGS.target4, attempts=30, wait_probe=SEC)
    first = ctrl.poll(timeout=datetime.timedelta(milliseconds=1500))
    assert first is None
    t.halt()
    o = ctrl.poll(timeout=10 * SEC)
    assert isinstance(o, ScamperPing), o
    assert o.stop_reason_str == "halted", o.stop_reason_str
    assert 1 <= o.probe_count < 30, o.probe_count


@check
def inst_done_and_eof():
    """inst.done(): results still come, then the instance reaches EOF (eofcb, is_done)."""
    eofs = []

    def eofcb(ctrl, inst, param):
        param.append(inst)

    ctrl = ScamperCtrl(unix=ARGS.unix, eofcb=eofcb, param=eofs)
    [inst] = ctrl.instances()
    ctrl.do_ping(ARGS.target4, attempts=2)
    inst.done()
    o = ctrl.poll(timeout=10 * SEC)
    assert isinstance(o, ScamperPing) and o.nreplies == 2
    end = datetime.datetime.now() + 10 * SEC
    while not ctrl.is_done():
        assert datetime.datetime.now() < end, "no EOF after done"
        assert ctrl.poll(timeout=SEC) is None
    assert inst.is_eof()
    assert eofs == [inst], eofs
    assert ctrl.instc == 0
    eofs.clear()
    del o, inst
    del ctrl


@check
def meta_objects():
    """meta=True: the list and cycle-start objects of the attach, then cycle-stop after done."""
    ctrl = ScamperCtrl(unix=ARGS.unix, meta=True)
    ctrl.do_ping(ARGS.target4, attempts=1)
    ctrl.done()
    objs = []
    end = datetime.datetime.now() + 15 * SEC
    while not ctrl.is_done():
        assert datetime.datetime.now() < end, objs
        o = ctrl.poll(timeout=SEC)
        if o is not None:
            objs.append(o)
    kinds = [type(o).__name__ for o in objs]
    assert kinds == ["ScamperList", "ScamperCycle", "ScamperPing", "ScamperCycle"], kinds
    lst, start, ping, stop = objs
    # attach without a name: the source is named after the socket path and a counter
    assert lst.name.startswith(ARGS.unix + ":"), lst.name
    assert lst.id == 0, lst.id
    assert start.id == 1 and stop.id == 1, (start.id, stop.id)
    assert start.start is not None and stop.stop is not None and stop.stop >= start.start
    assert start.hostname == socket.gethostname(), (start.hostname, socket.gethostname())
    # attach sends no monitor: the list gets scamper's -M name (vp1 runs the -U socket)
    assert lst.monitor == "vp1", lst.monitor
    assert ping.list.name == lst.name and ping.cycle.id == 1
    objs.clear()
    del ping, o
    del ctrl


@check
def tcp_instance_ipv6_ping():
    """add_inet(port): TCP control socket on loopback; an IPv6 ping."""
    ctrl = ScamperCtrl(meta=True)
    inst = ctrl.add_inet(ARGS.port)
    assert ctrl.instc == 1
    o = ctrl.do_ping(ARGS.target6, attempts=2, sync=True)
    assert str(o.dst) == ARGS.target6 and o.nreplies == 2, o
    assert all(r.is_from_target() for r in o.replies() if r is not None)
    assert o.inst == inst
    # the list and cycle-start came first; a TCP client's source is named <ip>:<port>
    lst, start = ctrl.poll(timeout=SEC), ctrl.poll(timeout=SEC)
    assert isinstance(lst, ScamperList) and isinstance(start, ScamperCycle), (lst, start)
    assert re.fullmatch(r"127\.0\.0\.1:[0-9]+", lst.name), lst.name
    assert o.list.name == lst.name


@check
def two_instances_one_command_each():
    """A unix and a TCP instance in one ScamperCtrl; inst=list sends to both."""
    ctrl = ScamperCtrl()
    a = ctrl.add_unix(ARGS.unix)
    b = ctrl.add_inet(ARGS.port)
    assert ctrl.instc == 2
    try:
        ctrl.do_ping(ARGS.target4)
        raise AssertionError("no inst with two instances must raise")
    except RuntimeError as e:
        assert "specify a ScamperInst" in str(e), e
    tasks = ctrl.do_ping(ARGS.target4, attempts=1, inst=ctrl.instances())
    assert len(tasks) == 2
    ctrl.do_trace(ARGS.target4, inst=a)
    insts = []
    for o in ctrl.responses(timeout=20 * SEC):
        insts.append((o.inst, type(o).__name__))
    assert sorted(insts, key=str) == sorted(
        [(a, "ScamperPing"), (b, "ScamperPing"), (a, "ScamperTrace")], key=str), insts


@check
def outfile_records_results():
    """ScamperCtrl(outfile=ScamperFile(..., 'w')) writes every result; the file reads back."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "out.warts")
        outfile = ScamperFile(path, 'w')
        ctrl = ScamperCtrl(unix=ARGS.unix, outfile=outfile)
        ctrl.do_ping(ARGS.target4, attempts=1)
        ctrl.do_trace(ARGS.target4)
        n = len(list(ctrl.responses(timeout=20 * SEC)))
        assert n == 2, n
        outfile.close()
        back = [type(o).__name__ for o in ScamperFile(path, filter_types=[ScamperPing, ScamperTrace])]
        assert sorted(back) == ["ScamperPing", "ScamperTrace"], back


@check
def json_of_results_matches_libscamperfile():
    """Each result's to_json() (libscamperfile's JSON writer on the object parsed from our
    DATA) equals what our sc_warts2json prints for the same objects written by ScamperFile."""
    ctrl = ctrl_unix()
    objs = [
        ctrl.do_ping(ARGS.target4, attempts=2, sync=True),
        ctrl.do_ping(ARGS.target6, attempts=1, method="udp", dport=33434, sync=True),
        ctrl.do_ping(ARGS.target4, attempts=1, method="tcp-syn", dport=81, sync=True),
        ctrl.do_trace(ARGS.target4, sync=True),
        ctrl.do_trace(ARGS.target6, method="icmp-paris", sync=True),
        ctrl.do_trace(ARGS.target4, method="tcp", dport=80, sync=True),
    ]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "results.warts")
        f = ScamperFile(path, 'w')
        for o in objs:
            f.write(o)
        f.close()
        out = subprocess.run([ARGS.warts2json, path], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    ours = [j for j in map(json.loads, out.splitlines()) if j.get("type") in ("ping", "trace")]
    assert len(ours) == len(objs), out
    for o, j in zip(objs, ours):
        c = json.loads(o.to_json())
        diff = {k: (c.get(k), j.get(k)) for k in set(c) | set(j) if c.get(k) != j.get(k)}
        assert not diff, (c.get("type"), c.get("method"), diff)


@check
def remote_dir_single_radius():
    """The documentation's single-radius example over sc_remoted's per-VP sockets."""
    ctrl = ScamperCtrl(remote_dir=ARGS.remote_dir)
    names = sorted(i.name for i in ctrl.instances())
    assert names == ["vp1", "vp2"], names
    for i in ctrl.instances():
        ctrl.do_ping(ARGS.target4, inst=i)
    seen = {}
    for o in ctrl.responses(timeout=10 * SEC):
        assert o.min_rtt is not None, o
        seen[o.inst.name] = o
    assert sorted(seen) == ["vp1", "vp2"], seen
    for o in seen.values():
        assert str(o.dst) == ARGS.target4 and o.nreplies == 4, (o.dst, o.nreplies)

    # a rejected command and a synchronous one on a per-VP socket
    inst = sorted(ctrl.instances(), key=lambda i: i.name)[0]
    ctrl.do_ping(ARGS.target4, attempts=0, inst=inst)
    try:
        ctrl.poll(timeout=10 * SEC)
        raise AssertionError("no error for ping -c 0")
    except ScamperInstError as e:
        assert "command not accepted" in str(e) and e.inst == inst, str(e)
    o = ctrl.do_trace(ARGS.target6, inst=inst, sync=True)
    assert o.inst == inst and o.hop_count == 2, (o.inst, o.hop_count)


@check
def remote_morecb_event_driven():
    """The documentation's dynamic example: morecb feeds each VP, inst.done() when empty."""
    def feedme(ctrl, inst, vps):
        if len(vps[inst]) == 0:
            inst.done()
        else:
            ctrl.do_ping(vps[inst].pop(0), attempts=1, inst=inst)

    def eof(ctrl, inst, vps):
        # libscamperctrl 20260420 keeps the closed socket of an instance that reached EOF in
        # its select set (assertion in scamper_ctrl_wait) until the ScamperInst is freed: let it
        # go. meta=True below makes every poll() return after one object, so no poll() holds an
        # instance in a local variable while it waits again.
        finished.append(inst.name)
        del vps[inst]

    vps = {}
    finished = []
    ctrl = ScamperCtrl(morecb=feedme, eofcb=eof, param=vps, meta=True)
    for path in sorted(os.listdir(ARGS.remote_dir)):
        inst = ctrl.add_remote(os.path.join(ARGS.remote_dir, path))
        vps[inst] = [ARGS.target4, ARGS.target6]
    del inst
    results = []
    end = datetime.datetime.now() + 30 * SEC
    while not ctrl.is_done():
        assert datetime.datetime.now() < end, results
        o = ctrl.poll(timeout=10 * SEC)
        if o is None or isinstance(o, (ScamperList, ScamperCycle)):
            continue
        results.append((o.inst.name, str(o.dst), o.nreplies))
        o = None  # see eof()
    want = sorted((n, d, 1) for n in ["vp1", "vp2"] for d in [ARGS.target4, ARGS.target6])
    assert sorted(results) == want, results
    assert sorted(finished) == ["vp1", "vp2"], finished
    assert vps == {}


@check
def mux_vps():
    """ScamperCtrl(mux=...): the VPs sc_remoted knows, used through add_vps()."""
    ctrl = ScamperCtrl(mux=ARGS.mux)
    vps = ctrl.vps()
    names = sorted(v.name for v in vps)
    assert names == ["vp1", "vp2"], names
    vp1, vp2 = sorted(vps, key=lambda v: v.name)
    # VP_UPDATE: the peer address as sc_remoted saw it, then the metadata file (run.sh)
    assert vp1.ipv4 == "127.0.0.1" and vp2.ipv4 == "127.0.0.1", (vp1.ipv4, vp2.ipv4)
    assert vp1.ipv6 is None
    assert (vp1.asn4, vp1.asn6) == (64496, 64497), (vp1.asn4, vp1.asn6)
    assert (vp1.cc, vp1.st, vp1.place) == ("NZ", "AUK", "Auckland Central"), \
        (vp1.cc, vp1.st, vp1.place)
    assert vp1.loc == (-36.8485, 174.7633), vp1.loc
    assert vp1.shortname == "v1" and vp1.iata == "AKL", (vp1.shortname, vp1.iata)
    assert sorted(vp1.tags) == ["lab", "python"], vp1.tags
    assert vp2.shortname == "vp2" and vp2.asn4 is None and vp2.cc is None
    assert vp2.tags is None or len(vp2.tags) == 0, vp2.tags
    insts = ctrl.add_vps(vps)
    assert len(insts) == 2 and ctrl.instc == 2
    ctrl.do_ping(ARGS.target4, attempts=1, inst=insts)
    ctrl.do_trace(ARGS.target6, inst=insts[0])
    got = []
    for o in ctrl.responses(timeout=20 * SEC):
        got.append((o.inst.name, type(o).__name__, str(o.dst)))
    want = sorted([(n, "ScamperPing", ARGS.target4) for n in ["vp1", "vp2"]]
                  + [(insts[0].name, "ScamperTrace", ARGS.target6)])
    assert sorted(got) == want, got
    assert list(ctrl.exceptions()) == []

    # a rejected command over a mux channel, then a synchronous one on the same channel
    ctrl.do_dns("example.com", inst=insts[1])
    try:
        ctrl.poll(timeout=10 * SEC)
        raise AssertionError("no error for a host command")
    except ScamperInstError as e:
        assert "command not accepted" in str(e) and e.inst == insts[1], str(e)
    o = ctrl.do_ping(ARGS.target6, attempts=1, inst=insts[1], sync=True)
    assert o.inst == insts[1] and o.nreplies == 1, (o.inst, o.nreplies)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    for a in ["unix", "remote-dir", "mux", "target4", "target6", "hop1", "src4"]:
        p.add_argument("--" + a, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--warts2json", required=True, help="our sc_warts2json")
    p.add_argument("--only", help="run only checks whose name contains this")
    ARGS = p.parse_args()
    passed = failed = 0
    for fn in CHECKS:
        if ARGS.only and ARGS.only not in fn.__name__:
            continue
        t0 = datetime.datetime.now()
        try:
            fn()
        except Exception:
            failed += 1
            print(f"FAIL {fn.__name__}", flush=True)
            traceback.print_exc()
        else:
            passed += 1
            dt = (datetime.datetime.now() - t0).total_seconds()
            print(f"ok   {fn.__name__} ({dt:.1f}s)", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
