#!/usr/bin/env bash
# sc_warts2json throughput: scamper-rs against Debian's scamper 20211212 on a synthetic warts
# file of 50,000 pings (1-4 probes each, made by scamper-tools/examples/gen_pings.rs). Measures
# wall time, user+sys CPU and max RSS of each run (wait4), runs the two tools alternately N
# times each (so load from other processes hits both alike), and writes a Markdown table of
# the medians (min-max in brackets) into bench/results-warts2json.md between its table
# markers; the rest of that file (findings) is kept.
#
#   bash bench/warts2json.sh                       # 50,000 pings, 7 runs each
#   bash bench/warts2json.sh 200000 5              # other size / run count
#   bash bench/warts2json.sh 50000 7 --profile     # also a perf profile of ours (needs perf)
#
# CARGO_TARGET_DIR is honoured (default: the workspace's target/). Needs root (or sudo) only
# to install the `scamper` and `time` packages when they are missing; needs python3 for the
# measurement.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ws=$(dirname "$here")
count=${1:-50000}
runs=${2:-7}
profile=${3:-}
target=${CARGO_TARGET_DIR:-$ws/target}
ours=$target/release/sc_warts2json
theirs=/usr/bin/sc_warts2json
results=$here/results-warts2json.md

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

# One run: "<wall s> <user+sys s> <max RSS KiB> <user s> <sys s>". Wall and CPU come from wait4() on
# `/usr/bin/time -f %M <tool>` (microsecond CPU times, where time's own output has only
# hundredths; they include time's own ~1 ms start-up, for both tools alike); max RSS is
# time's %M for the tool (the spawning process's RSS would leak into it otherwise, as exec
# keeps the high-water mark). Output goes to a new file each run (not a pipe reader that
# could slow the writer down, and not a truncated file: ext4 starts writing back the old
# contents of a file truncated on open, which would charge one run for the previous one)
# and is checked to have one line per object.
measure() {
    local bin=$1 out=$work/out.json
    rm -f "$out"
    python3 - "$bin" "$input" "$out" "$work/rss" <<'PY'
import os, sys, time
tool, inp, out, rss = sys.argv[1:5]
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
argv = ["/usr/bin/time", "-f", "%M", "-o", rss, tool, inp]
env = dict(os.environ, TZ="UTC")
t0 = time.perf_counter()
pid = os.posix_spawn(argv[0], argv, env, file_actions=[(os.POSIX_SPAWN_DUP2, fd, 1)])
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
if status != 0:
    sys.exit(f"{tool} failed: status {status}")
with open(rss) as f:
    kib = int(f.read().split()[-1])
print(f"{wall:.3f} {ru.ru_utime + ru.ru_stime:.3f} {kib} {ru.ru_utime:.3f} {ru.ru_stime:.3f}")
PY
    local lines
    lines=$(wc -l <"$out")
    # cycle start + pings + cycle stop
    if [ "$lines" != $((count + 2)) ]; then
        echo "$bin printed $lines lines, expected $((count + 2))" >&2
        exit 1
    fi
    rm -f "$out"
}

# "median (min–max)" of column $1 of file $2
stat_col() {
    cut -d' ' -f"$1" "$2" | sort -n | awk '{ v[NR] = $1 } END {
        printf "%s (%s–%s)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
median_col() { cut -d' ' -f"$1" "$2" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

: >"$work/ours"
: >"$work/theirs"
for _ in $(seq "$runs"); do
    measure "$ours" >>"$work/ours"
    measure "$theirs" >>"$work/theirs"
done

ratio() {
    awk -v a="$(median_col "$1" "$work/ours")" -v b="$(median_col "$1" "$work/theirs")" \
        'BEGIN { if (a > 0) printf "%.1f×", b / a; else print "n/a" }'
}
size=$(stat -c %s "$input")
table=$(cat <<EOT
Input: $count pings (1-4 probes, 1-2 replies each; ICMP echo, UDP, TCP SYN), $((size / 1024)) KiB
of warts, made by \`scamper-tools/examples/gen_pings.rs\`. Median of $runs runs each, the two
tools alternating (min–max in brackets). Wall and CPU time from \`wait4\` on \`/usr/bin/time\`,
which gives the max RSS. Output to a new file on $(df -P "$work" | awk 'NR == 2 { print $1 }') each run. $(nproc) CPUs shared with
other work (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)), so wall times are
noisy; CPU time is the steadier measure.

| | scamper-rs | Debian $(dpkg-query -W -f='${Version}' scamper 2>/dev/null || echo 20211212) | ratio |
| --- | ---: | ---: | ---: |
| wall time (s) | $(stat_col 1 "$work/ours") | $(stat_col 1 "$work/theirs") | $(ratio 1) |
| user+sys CPU (s) | $(stat_col 2 "$work/ours") | $(stat_col 2 "$work/theirs") | $(ratio 2) |
| user / sys CPU (s) | $(median_col 4 "$work/ours") / $(median_col 5 "$work/ours") | $(median_col 4 "$work/theirs") / $(median_col 5 "$work/theirs") | $(ratio 4) / $(ratio 5) |
| max RSS (KiB) | $(stat_col 3 "$work/ours") | $(stat_col 3 "$work/theirs") | $(ratio 3) |

Ratios are Debian / scamper-rs medians (above 1× = scamper-rs is faster or smaller). The two
tools print different JSON dialects (json.md section 11), so output sizes differ slightly.
EOT
)
echo "$table"

# Replace the text between "<!-- warts2json:$1:begin -->" and its end marker in the results
# file with the contents of file $2 (markers appended if missing).
splice() {
    local b="<!-- warts2json:$1:begin -->" e="<!-- warts2json:$1:end -->"
    [ -f "$results" ] || printf '# sc_warts2json: scamper-rs vs Debian scamper\n' >"$results"
    grep -qF -- "$b" "$results" || printf '\n%s\n%s\n' "$b" "$e" >>"$results"
    awk -v b="$b" -v e="$e" -v f="$2" '
        $0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
        $0 == e { skip = 0 }
        !skip { print }' "$results" >"$work/results.new"
    mv "$work/results.new" "$results"
}
echo "$table" >"$work/table"
splice table "$work/table"

if [ "$profile" = --profile ]; then
    big=$work/big.warts
    "$target/release/examples/gen_pings" "$big" $((count * 10))
    perf record -q -F 4999 -g -o "$work/perf.data" "$ours" "$big" >/dev/null 2>&1
    {
        echo "### Profile of scamper-rs (generated by \`bench/warts2json.sh $count $runs --profile\`)"
        echo
        echo "$((count * 10)) pings to /dev/null, \`perf record -F 4999 -g\`, self time per function, entries >= 1 %:"
        echo
        echo '```text'
        perf report -i "$work/perf.data" --no-children --stdio 2>/dev/null |
            grep -E '^ +[0-9.]+%' | awk '$1 + 0 >= 1.0' | cut -c1-120
        echo '```'
    } >"$work/profile"
    splice profile "$work/profile"
fi
