#!/usr/bin/env bash
# Drives our scamper's control socket (-U, -P) and our sc_remoted (-U per-VP sockets, -M mux)
# with the Python `scamper` module's ScamperCtrl, inside a three-namespace lab.
#
# usage: tests/pyscamper/run.sh [VENV [--only NAME]]      (as root)
#   VENV (or $SCAMPER_PY_VENV): a virtualenv whose python can `import scamper` (see README.md).
#   $SCRS_BIN_DIR: where scamper and sc_remoted are (default <workspace>/target/release).
#
# Lab (documentation addresses only, no default route anywhere, nothing leaves the lab):
#   vp 192.0.2.1 / 2001:db8::1 -- r1 192.0.2.2|192.0.2.9 / 2001:db8::2|2001:db8:0:1::1
#      -- tgt 192.0.2.10 / 2001:db8:0:1::2, target 198.51.100.1 / 2001:db8:1::1 on its loopback.
# Everything runs in the vp namespace; namespaces and processes are removed on any exit, and the
# Python checks are bounded by `timeout`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${1:-${SCAMPER_PY_VENV:-}}
shift || true
bins=${SCRS_BIN_DIR:-$root/target/release}

die() { echo "pyscamper: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
[ -n "$venv" ] || die "give the venv with the scamper module: run.sh VENV (or SCAMPER_PY_VENV)"
py="$venv/bin/python"
[ -x "$py" ] || die "$py not found"
"$py" -c 'import scamper' || die "$py cannot import scamper (see tests/pyscamper/README.md)"
for b in scamper sc_remoted sc_warts2json; do
    [ -x "$bins/$b" ] || die "$bins/$b missing: cargo build --release (or set SCRS_BIN_DIR)"
done

ns_prefix="pyscr-$$"
ns_vp="$ns_prefix-vp" ns_r1="$ns_prefix-r1" ns_tgt="$ns_prefix-tgt"
work=$(mktemp -d /tmp/pyscamper.XXXXXX)
pids=()

# Our processes: the ones started below, then anything else still inside our namespaces (only
# this script puts processes there), each by PID.
stop_pids() {
    local p
    for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
    for p in "$@"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
}

cleanup() {
    local rc=$?
    set +e
    stop_pids "${pids[@]}"
    for ns in "$ns_vp" "$ns_r1" "$ns_tgt"; do
        [ -e "/run/netns/$ns" ] || continue
        # shellcheck disable=SC2046
        stop_pids $(ip netns pids "$ns" 2>/dev/null)
        ip netns del "$ns" 2>/dev/null
    done
    if [ "$rc" != 0 ]; then
        for f in "$work"/*.log; do [ -s "$f" ] && { echo "== $f"; tail -n 30 "$f"; }; done
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# --- lab ----------------------------------------------------------------------------------------
for ns in "$ns_vp" "$ns_r1" "$ns_tgt"; do
    ip netns add "$ns"
    in_ns "$ns" ip link set lo up
    in_ns "$ns" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 \
        net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
done
in_ns "$ns_r1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

ip link add e-r1 netns "$ns_vp" type veth peer name e-vp netns "$ns_r1"
ip link add e-tgt netns "$ns_r1" type veth peer name e-r1 netns "$ns_tgt"

in_ns "$ns_vp" ip addr add 192.0.2.1/29 dev e-r1
in_ns "$ns_vp" ip addr add 2001:db8::1/64 dev e-r1 nodad
in_ns "$ns_r1" ip addr add 192.0.2.2/29 dev e-vp
in_ns "$ns_r1" ip addr add 2001:db8::2/64 dev e-vp nodad
in_ns "$ns_r1" ip addr add 192.0.2.9/29 dev e-tgt
in_ns "$ns_r1" ip addr add 2001:db8:0:1::1/64 dev e-tgt nodad
in_ns "$ns_tgt" ip addr add 192.0.2.10/29 dev e-r1
in_ns "$ns_tgt" ip addr add 2001:db8:0:1::2/64 dev e-r1 nodad
in_ns "$ns_tgt" ip addr add 198.51.100.1/32 dev lo
in_ns "$ns_tgt" ip addr add 2001:db8:1::1/128 dev lo
in_ns "$ns_vp" ip link set e-r1 up
in_ns "$ns_r1" ip link set e-vp up
in_ns "$ns_r1" ip link set e-tgt up
in_ns "$ns_tgt" ip link set e-r1 up

# Specific routes only: nothing outside these prefixes is routable from any namespace.
in_ns "$ns_vp" ip route add 192.0.2.8/29 via 192.0.2.2
in_ns "$ns_vp" ip route add 198.51.100.1/32 via 192.0.2.2
in_ns "$ns_vp" ip -6 route add 2001:db8:0:1::/64 via 2001:db8::2
in_ns "$ns_vp" ip -6 route add 2001:db8:1::1/128 via 2001:db8::2
in_ns "$ns_r1" ip route add 198.51.100.1/32 via 192.0.2.10
in_ns "$ns_r1" ip -6 route add 2001:db8:1::1/128 via 2001:db8:0:1::2
in_ns "$ns_tgt" ip route add 192.0.2.0/29 via 192.0.2.9
in_ns "$ns_tgt" ip -6 route add 2001:db8::/64 via 2001:db8:0:1::1

# Wait until the target answers (links up, neighbours resolved), bounded.
ok=
for _ in $(seq 50); do
    if in_ns "$ns_vp" ping -n -c1 -W1 198.51.100.1 >/dev/null 2>&1 &&
        in_ns "$ns_vp" ping -n -c1 -W1 2001:db8:1::1 >/dev/null 2>&1; then
        ok=1; break
    fi
    sleep 0.2
done
[ -n "$ok" ] || die "lab target does not answer"

# --- our programs -------------------------------------------------------------------------------
# Started with `ip netns exec` itself (it execs the program), so $! is the program's PID.
port_ctl=31400 port_remoted=31401
mkdir -p "$work/vps"
# Metadata sc_remoted hands to mux clients (ScamperVp fields); vp2 has none.
cat >"$work/meta.txt" <<'META'
# vp-name attribute value
vp1 asn4 64496
vp1 asn6 64497
vp1 cc nz
vp1 st auk
vp1 place Auckland Central
vp1 latlong -36.8485,174.7633
vp1 shortname v1
vp1 iata akl
vp1 tag lab
vp1 tag python
META
ip netns exec "$ns_vp" "$bins/sc_remoted" -P "127.0.0.1:$port_remoted" -U "$work/vps" -M "$work/mux" \
    -m "$work/meta.txt" >"$work/sc_remoted.log" 2>&1 &
pids+=($!)
sleep 0.5
# vp1: local control sockets and a remote connection; vp2: remote only.
ip netns exec "$ns_vp" "$bins/scamper" -U "$work/ctl.sock" -P "127.0.0.1:$port_ctl" \
    -R "127.0.0.1:$port_remoted" -M vp1 -p 200 >"$work/scamper-vp1.log" 2>&1 &
pids+=($!)
ip netns exec "$ns_vp" "$bins/scamper" -R "127.0.0.1:$port_remoted" -M vp2 -p 200 \
    >"$work/scamper-vp2.log" 2>&1 &
pids+=($!)

ok=
for _ in $(seq 100); do
    if [ -S "$work/ctl.sock" ] && [ -S "$work/mux" ] &&
        [ "$(find "$work/vps" -type s | wc -l)" -ge 2 ]; then
        ok=1; break
    fi
    sleep 0.1
done
[ -n "$ok" ] || die "control sockets did not appear"

# --- the checks ---------------------------------------------------------------------------------
# PYSCAMPER_STRACE=FILE records what the module sent and received (for test transcripts).
trace=()
[ -n "${PYSCAMPER_STRACE:-}" ] && trace=(strace -f -tt -o "$PYSCAMPER_STRACE" -s 65535 -e trace=connect,read,write,recvfrom,sendto,close)
timeout -k 5 300 ip netns exec "$ns_vp" "${trace[@]}" "$py" "$here/check_ctrl.py" \
    --unix "$work/ctl.sock" --port "$port_ctl" --remote-dir "$work/vps" --mux "$work/mux" \
    --target4 198.51.100.1 --target6 2001:db8:1::1 --hop1 192.0.2.2 --src4 192.0.2.1 \
    --warts2json "$bins/sc_warts2json" "$@"
