#!/usr/bin/env bash
# Shared part of bench/ping.sh and bench/trace.sh: `bash bench/lab-bench.sh <ping|trace> [runner
# options]`. Checks for root, installs Debian's scamper (the reference) and the lab packages when
# missing, builds scamper-rs and the runner (tests/src/bin/scrs-bench.rs), and runs the workload
# with its results written to bench/results-<workload>.md.
# BENCH_TARGET_DIR sets the cargo target directory of the runner (default: CARGO_TARGET_DIR, else
# the workspace's).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ws=$(dirname "$here")
workload=${1:?usage: lab-bench.sh ping|trace [options]}
shift
case "$workload" in
    ping | trace) ;;
    *)
        echo "bench/lab-bench.sh: unknown workload $workload (ping, trace)" >&2
        exit 2
        ;;
esac

if [ "$(id -u)" != 0 ]; then
    echo "bench/$workload.sh: run as root (network namespaces, raw sockets)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Debian's scamper is the reference; the lab needs its own few packages.
if ! dpkg-query -W -f='${Status}' scamper 2>/dev/null | grep -q "ok installed"; then
    apt-get install -y scamper
fi
missing=$(for p in $(cat "$ws/.ci/lab-packages.txt"); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"
done)
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086  # one word per package
    apt-get install -y $missing
fi
# Profiling tools are optional: the runner says so in the results if they are missing.
if [[ " $* " == *" --profile"* ]]; then
    command -v perf >/dev/null || apt-get install -y linux-perf || true
    command -v strace >/dev/null || apt-get install -y strace || true
fi
echo "reference: $(/usr/bin/scamper -v 2>&1 | head -1) ($(dpkg-query -W -f='${Version}' scamper))" >&2

cd "$ws"
# scamper itself is built where cargo puts it (CARGO_TARGET_DIR if set).
rs_target=${CARGO_TARGET_DIR:-$ws/target}
cargo build --release -p scamper-priv -p scamper-tools
target=${BENCH_TARGET_DIR:-$rs_target}
CARGO_TARGET_DIR=$target cargo build --release -p scamper-systests --bin scrs-bench
exec "$target/release/scrs-bench" "$workload" \
    --rs-bin "$rs_target/release/scamper" --out "$here/results-$workload.md" "$@"
