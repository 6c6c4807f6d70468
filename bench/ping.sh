#!/usr/bin/env bash
# Side-by-side ping benchmark of scamper-rs and Debian's scamper (20211212) on the namespace lab:
# one `ping -c 1` to each of 50,000 AnyIP targets at several -p rates. Prints a Markdown table and
# writes it to bench/results-ping.md. Run as root:
#
#   sudo bash bench/ping.sh                       # 50,000 targets, 3 runs per configuration
#   sudo bash bench/ping.sh --targets 5000 --runs 1      # quick look
#   sudo bash bench/ping.sh --profile             # also perf + strace of scamper-rs at -p 10000
#   sudo bash bench/ping.sh --offload-lab         # the lab's forwarding kept off scamper's CPU
#
# Every other option goes to the runner (tests/src/bin/scrs-bench.rs); `--help` lists them.
# The set-up and the runner are shared with the other lab benchmark: bench/lab-bench.sh.
exec bash "$(dirname "$0")/lab-bench.sh" ping "$@"
