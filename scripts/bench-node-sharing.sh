#!/usr/bin/env bash
# Measures what sharing the node's device workers buys: two pruning jobs run one after another on `espalier serve`,
# then the same two submitted together, on one node started with `--slots 2 --devices cpu` (one worker, every core).
# Prints both wall times (submit of the first to the end of the last, client start-ups included in both) and their
# ratio. Usage: scripts/bench-node-sharing.sh [method] [calibration samples]   (default: alps 64)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
method="${1:-alps}"
samples="${2:-64}"
work="$(mktemp -d)"
trap 'kill "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true; rm -rf "$work"' EXIT
espalier() { "$root/espalier" "$@"; }

espalier serve --home "$work/home" --port 0 --slots 2 --devices cpu --allow-out "$work" > "$work/serve.out" 2>&1 &
node=$!
for _ in $(seq 600); do [ -f "$work/home/node.port" ] && break; sleep 0.1; done
[ -f "$work/home/node.port" ] || { cat "$work/serve.out"; echo "the node did not start" >&2; exit 1; }

job() { # $1: output name
  espalier submit --home "$work/home" --model "$root/../shared/models/stories260K-hf" --method "$method" --sparsity 0.5 \
    --calib "$root/../shared/data/c4/c4_validation_2k.jsonl" --calib-samples "$samples" --calib-seqlen 256 --out "$work/$1"
}
now() { date +%s.%N; }

start=$(now)
espalier watch --home "$work/home" --quiet "$(job seq-a)" > /dev/null
espalier watch --home "$work/home" --quiet "$(job seq-b)" > /dev/null
sequential=$(echo "$(now) - $start" | bc)

start=$(now)
a=$(job par-a)
b=$(job par-b)
espalier watch --home "$work/home" --quiet "$a" > /dev/null &
watcher=$!
espalier watch --home "$work/home" --quiet "$b" > /dev/null
wait "$watcher"
together=$(echo "$(now) - $start" | bc)

grep -h "device workers shared by every job\|session of .* opened" "$work/home/node.log" | sed 's/^/node.log: /'
printf 'method %s, %s calibration samples of 256 tokens, stories260K, node --slots 2 --devices cpu on %s cores\n' \
  "$method" "$samples" "$(nproc)"
printf 'one after another: %.2f s\ntogether:          %.2f s\nratio together/sequential: %.3f\n' \
  "$sequential" "$together" "$(echo "$together / $sequential" | bc -l)"
