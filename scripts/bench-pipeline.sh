#!/usr/bin/env bash
# One job's layer pipeline over one node and over two (`--method-option pipeline_nodes=2`): two fresh cluster nodes
# on this machine (one slot and `--devices cpu` each, sharing its cores) per run; prints the wall time from submit to
# the job's end, each node's peak resident memory (VmHWM), and whether both runs exported the same bytes.
# Usage: scripts/bench-pipeline.sh MODEL [method] [calibration samples] [seqlen] [more prune flags...]
#   e.g. scripts/bench-pipeline.sh ../shared/models/stories260K-hf alps 256 256
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
method="${2:-alps}"
samples="${3:-64}"
seqlen="${4:-256}"
shift $(($# < 4 ? $# : 4))
work="$(mktemp -d)"
nodes=()
stop_nodes() { for p in "${nodes[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; nodes=(); }
trap 'stop_nodes; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
espalier() { "$root/espalier" "$@"; }
now() { date +%s.%N; }
"$root/espalier" --version > /dev/null 2>&1 # builds once, outside the timings

for spread in 1 2; do
  dir="$work/pipeline-$spread"
  base=$((25800 + 10 * spread))
  for i in 0 1; do
    seed=()
    [ "$i" -gt 0 ] && seed=(--seed "127.0.0.1:$base")
    "$root/espalier" serve --cluster --cluster-dir "$dir/shared" --home "$dir/node-$i" --port 0 \
      --cluster-port $((base + i)) \
      "${seed[@]}" --slots 1 --devices cpu --allow-out "$work" > "$dir-node-$i.out" 2>&1 &
    nodes+=($!) # the launcher execs the JVM: this is its pid
    for _ in $(seq 600); do [ -f "$dir/node-$i/node.port" ] && break; sleep 0.1; done
  done
  for _ in $(seq 120); do
    [ "$(espalier status --home "$dir/node-0" 2>/dev/null | grep -c '^127\.0\.0\.1:')" -eq 2 ] && break
    sleep 1
  done
  sleep 5 # the stage hosts' registrations reach the other node's receptionist
  start=$(now)
  id="$(espalier submit --home "$dir/node-0" --model "$model" --method "$method" --sparsity 0.5 \
    --calib "$root/../shared/data/c4/c4_validation_2k.jsonl" --calib-samples "$samples" --calib-seqlen "$seqlen" \
    --method-option "pipeline_nodes=$spread" --out "$work/out-$spread" "$@")"
  espalier watch --home "$dir/node-0" --quiet "$id" > /dev/null
  wall=$(echo "$(now) - $start" | bc)
  rss=""
  for i in 0 1; do rss+=" $(awk '/VmHWM/ {printf "%.2f GiB", $2 / 1048576}' "/proc/${nodes[$i]}/status")"; done
  where="$(grep -ho "pipeline over .*" "$dir"/node-*/node.log | head -1 || true)"
  printf 'pipeline_nodes=%d: %s %s in %.1f s; peak RSS per node:%s; %s\n' \
    "$spread" "$method" "$(basename "$model")" "$wall" "$rss" "${where:-all layers on one node}"
  stop_nodes
done
same=yes
for f in "$work"/out-1/*.safetensors; do cmp -s "$f" "$work/out-2/$(basename "$f")" || same=NO; done
printf 'same bytes on one node and across two: %s (%s x %s C4 tokens, %s cores shared by both nodes)\n' \
  "$same" "$samples" "$seqlen" "$(nproc)"
