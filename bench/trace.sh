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
# `--help` lists them.
# The set-up and the runner are shared with the other lab benchmark: bench/lab-bench.sh.
exec bash "$(dirname "$0")/lab-bench.sh" trace "$@"
