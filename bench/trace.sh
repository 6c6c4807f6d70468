#!/usr/bin/env bash
# Side-by-side traceroute benchmark of scamper-rs and Debian's scamper (20211212) on the namespace
# lab: one `trace -q 1 -w 1` (udp-paris) to each of 2,000 AnyIP targets at -p 5000 through three
# routers. Prints a Markdown table and writes it to bench/results-trace.md. Run as root:
#
#   sudo bash bench/trace.sh                         # 2,000 targets, 3 runs each
#   sudo bash bench/trace.sh --targets 500 --runs 1  # quick look
#   sudo bash bench/trace.sh --command 'trace' --keep --workdir /tmp/tr   # scamper's defaults
#
# Every other option goes to the runner (tests/src/bin/scrs-bench.rs, `scrs-bench trace`);
# `--help` lists them. BENCH_TARGET_DIR sets the cargo target directory of the runner.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ws=$(dirname "$here")

if [ "$(id -u)" != 0 ]; then
    echo "bench/trace.sh: run as root (network namespaces, raw sockets)" >&2
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
echo "reference: $(/usr/bin/scamper -v 2>&1 | head -1) ($(dpkg-query -W -f='${Version}' scamper))" >&2

cd "$ws"
# scamper itself is built where cargo puts it (CARGO_TARGET_DIR if set).
rs_target=${CARGO_TARGET_DIR:-$ws/target}
cargo build --release -p scamper-priv -p scamper-tools
target=${BENCH_TARGET_DIR:-$rs_target}
CARGO_TARGET_DIR=$target cargo build --release -p scamper-systests --bin scrs-bench
exec "$target/release/scrs-bench" trace \
    --rs-bin "$rs_target/release/scamper" --out "$here/results-trace.md" "$@"
