#!/usr/bin/env bash
# Jobs per minute of a cluster of 1, 2 and 3 nodes on this one machine (`espalier serve --cluster`, one slot and
# `--devices cpu` each, so the nodes share the machine's cores): the same pruning jobs submitted to the first node,
# timed from the first submit to the end of the last job (client start-ups included). Prints one line per size.
# Usage: scripts/bench-cluster.sh [jobs] [method] [calibration samples]   (default: 12 alps 64)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${1:-12}"
method="${2:-alps}"
samples="${3:-64}"
work="$(mktemp -d)"
nodes=()
stop_nodes() { for p in "${nodes[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; nodes=(); }
trap 'stop_nodes; rm -rf "$work"' EXIT
espalier() { "$root/espalier" "$@"; }
now() { date +%s.%N; }
"$root/espalier" --version > /dev/null 2>&1 # builds once, outside the timings

for size in 1 2 3; do
  dir="$work/size-$size"
  base=$((25700 + 10 * size))
  for i in $(seq 0 $((size - 1))); do
    seed=()
    [ "$i" -gt 0 ] && seed=(--seed "127.0.0.1:$base")
    espalier serve --cluster --cluster-dir "$dir/shared" --home "$dir/node-$i" --port 0 --cluster-port $((base + i)) \
      "${seed[@]}" --slots 1 --devices cpu --allow-out "$dir" > "$dir-node-$i.out" 2>&1 &
    nodes+=($!)
    for _ in $(seq 600); do [ -f "$dir/node-$i/node.port" ] && break; sleep 0.1; done
  done
  for _ in $(seq 120); do
    [ "$(espalier status --home "$dir/node-0" 2>/dev/null | grep -c '^127\.0\.0\.1:')" -eq "$size" ] && break
    sleep 1
  done
  start=$(now)
  ids=()
  for j in $(seq "$jobs"); do
    ids+=("$(espalier submit --home "$dir/node-0" --model "$root/../shared/models/stories260K-hf" --method "$method" \
      --sparsity 0.5 --calib "$root/../shared/data/c4/c4_validation_2k.jsonl" --calib-samples "$samples" \
      --calib-seqlen 256 --out "$dir/out-$j")")
  done
  for id in "${ids[@]}"; do espalier watch --home "$dir/node-0" --quiet "$id" > /dev/null; done
  wall=$(echo "$(now) - $start" | bc)
  spread=""
  for i in $(seq 0 $((size - 1))); do spread+=" $(grep -c 'taken by this node' "$dir/node-$i/node.log" || true)"; done
  printf '%d node(s): %d %s jobs in %.1f s = %.2f jobs/min (jobs taken per node:%s)\n' \
    "$size" "$jobs" "$method" "$wall" "$(echo "60 * $jobs / $wall" | bc -l)" "$spread"
  stop_nodes
done
printf '(%s, stories260K, %s x 256 C4 tokens per job, on %s cores shared by every node)\n' "$method" "$samples" "$(nproc)"
