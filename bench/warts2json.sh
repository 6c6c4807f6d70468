#!/usr/bin/env bash
# sc_warts2json throughput: scamper-rs against Debian's scamper 20211212 on a synthetic warts
# file of 50,000 pings (1-4 probes each, made by scamper-tools/examples/gen_pings.rs). Measures
# wall time, user+sys CPU and max RSS with /usr/bin/time, runs each tool N times, prints a
# Markdown table of the medians and writes it to bench/results-warts2json.md.
#
#   bash bench/warts2json.sh               # 50,000 pings, 3 runs each
#   bash bench/warts2json.sh 200000 5      # other size / run count
#
# CARGO_TARGET_DIR is honoured (default: the workspace's target/). Needs root (or sudo) only
# to install the `scamper` and `time` packages when they are missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ws=$(dirname "$here")
count=${1:-50000}
runs=${2:-3}
target=${CARGO_TARGET_DIR:-$ws/target}
ours=$target/release/sc_warts2json
theirs=/usr/bin/sc_warts2json

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
export DEBIAN_FRONTEND=noninteractive
[ -x "$theirs" ] || as_root apt-get install -y scamper
[ -x /usr/bin/time ] || as_root apt-get install -y time

(cd "$ws" && cargo build --release -q -p scamper-tools --bin sc_warts2json --example gen_pings)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
input=$work/pings.warts
"$target/release/examples/gen_pings" "$input" "$count"

# One run: "<wall s> <user+sys s> <max RSS KiB>"; output goes to a file (not a pipe reader
# that could slow the writer down) and is checked to have one line per object.
measure() {
    local bin=$1 out=$work/out.json
    TZ=UTC /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$bin" "$input" >"$out"
    local lines
    lines=$(wc -l <"$out")
    # cycle start + pings + cycle stop
    if [ "$lines" != $((count + 2)) ]; then
        echo "$bin printed $lines lines, expected $((count + 2))" >&2
        exit 1
    fi
    awk '{ printf "%.2f %.2f %d\n", $1, $2 + $3, $4 }' "$work/time"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A wall cpu rss
for impl in ours theirs; do
    bin=${!impl}
    : >"$work/$impl"
    for _ in $(seq "$runs"); do
        measure "$bin" >>"$work/$impl"
    done
    wall[$impl]=$(cut -d' ' -f1 "$work/$impl" | median)
    cpu[$impl]=$(cut -d' ' -f2 "$work/$impl" | median)
    rss[$impl]=$(cut -d' ' -f3 "$work/$impl" | median)
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.1f×", b / a; else print "n/a" }'; }
size=$(stat -c %s "$input")
table=$(cat <<EOT
# sc_warts2json: scamper-rs vs Debian scamper $(dpkg-query -W -f='${Version}' scamper 2>/dev/null || echo 20211212)

Input: $count pings (1-4 probes, 1-2 replies each; ICMP echo, UDP, TCP SYN), $((size / 1024)) KiB of
warts, made by \`scamper-tools/examples/gen_pings.rs\`. Median of $runs runs, \`/usr/bin/time\`,
output to a file on $(df -P "$work" | awk 'NR == 2 { print $1 }'), $(nproc) CPUs.

| | scamper-rs | Debian 20211212 | ratio |
| --- | ---: | ---: | ---: |
| wall time (s) | ${wall[ours]} | ${wall[theirs]} | $(ratio "${wall[ours]}" "${wall[theirs]}") |
| user+sys CPU (s) | ${cpu[ours]} | ${cpu[theirs]} | $(ratio "${cpu[ours]}" "${cpu[theirs]}") |
| max RSS (KiB) | ${rss[ours]} | ${rss[theirs]} | $(ratio "${rss[ours]}" "${rss[theirs]}") |

Ratios are Debian / scamper-rs (above 1× = scamper-rs is faster or smaller). The two tools print
different JSON dialects (json.md section 11), so output sizes differ slightly.
EOT
)
echo "$table"
echo "$table" >"$here/results-warts2json.md"
