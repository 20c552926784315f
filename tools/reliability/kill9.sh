#!/usr/bin/env bash
# Kill -9 at random points (issue 18 item 3): trains a small two-task recipe once straight
# through, then again while killing it with SIGKILL 20 times and resuming after each kill, and
# checks that every resume starts from an intact checkpoint (digests verified) and that the
# final weights equal the uninterrupted run's byte for byte.
#
#   tools/reliability/kill9.sh [--kills 20] [--out runs/kill9] [--seed N]
#
# Moments are counted in training progress, not seconds, so a loaded machine does not move them
# all into start-up: odd kills land 1-40 steps past the resumed step plus 0-0.2 s (in start-up,
# a step or a checkpoint write, by chance); even kills land inside a checkpoint write: the child
# runs with TESSERA_TEST_WRITE_PAUSE_MS=300 (every safetensors write pauses halfway through its
# tensors and before its rename), the script waits 12-40 steps, then for the next write's temp
# file, and kills 0-0.25 s later. The first kill lands in start-up (0-1.5 s after launch).
set -euo pipefail
cd "$(dirname "$0")/../.."
kills=20; out=runs/kill9; seed=$RANDOM
while [[ $# -gt 0 ]]; do
  case "$1" in
    --kills) kills="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    *) echo "kill9.sh: unknown argument '$1' (expected --kills N, --out DIR, --seed N)" >&2; exit 2 ;;
  esac
done
RANDOM=$seed
dotnet build src/Cli -c Release -v q -nologo >/dev/null
rm -rf "$out" && mkdir -p "$out" && cp -r src/Cli/bin/Release/net10.0 "$out/bin"
tessera() { nice -n 5 dotnet "$out/bin/tessera.dll" "$@"; }
# In the background without a function or subshell in between, so $! is the training process itself
# (nice execs dotnet): killing a wrapper would leave the run going.
launch() { env "$@" nice -n 5 dotnet "$out/bin/tessera.dll" "${common[@]}" --out "$run" "${mode_args[@]}" > /dev/null 2>&1 & pid=$!; }
cat > "$out/kill9.json" <<'JSON'
{
  "name": "kill9",
  "steps": 600,
  "batch": 8,
  "size": 12,
  "devices": 2,
  "checkpoint_every": 10,
  "eval_batches": 1,
  "model": { "type": "small-cnn", "width": 8, "batch_norm": true },
  "optimizer": { "type": "adamw", "lr": 0.01 },
  "schedule": { "type": "cosine", "warmup": 20 },
  "tasks": [
    { "name": "strokes", "source": "shapes" },
    { "name": "bars", "source": "shapes-bars", "size": 16, "batch": 4 }
  ]
}
JSON
last_step() { [[ -s "$run/log.jsonl" ]] && tail -n 1 "$run/log.jsonl" | grep -o '"step":[0-9]*' | cut -d: -f2 || echo -1; }
# Waits until the run's log reaches step $1 or the process ends.
wait_for_step() { until (( $(last_step) >= $1 )) || ! kill -0 "$pid" 2>/dev/null; do sleep 0.02; done; }
rand() { awk -v r=$RANDOM -v lo="$1" -v hi="$2" 'BEGIN { printf "%.3f", lo + (hi - lo) * r / 32767 }'; }
step_of() { python3 -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<q",b[:8])[0]; print(json.loads(b[8:8+n])["__metadata__"]["step"])' "$1"; }
common=(train "$out/kill9.json" --quiet --threads 1)

echo "kill9: straight run (seed $seed for the kill schedule)"
start=$(date +%s)
tessera "${common[@]}" --out "$out/straight" > "$out/straight.out"
echo "kill9: straight run took $(( $(date +%s) - start )) s"

run="$out/killed"; ckpt="$run/checkpoint.safetensors"
report="$out/kill9.md"
{ echo "| kill | mode | resumed from | killed after | last logged step | inside a write | checkpoint after kill | verify |"; echo "|---:|---|---:|---:|---:|---|---:|---|"; } > "$report"
inside=0; resumes=0
for ((k = 1; k <= kills; k++)); do
  if [[ -f "$ckpt" ]]; then mode_args=(--resume); resumes=$((resumes + 1)); else mode_args=(--overwrite); fi
  from=0; [[ -f "$ckpt" ]] && from=$(step_of "$ckpt")
  t0=$(date +%s.%N)
  if (( k == 1 )); then
    how=start-up; launch TESSERA_TEST_WRITE_PAUSE_MS=0
    sleep "$(rand 0 1.5)"
  elif (( k % 2 == 1 )); then
    how=random; launch TESSERA_TEST_WRITE_PAUSE_MS=0
    wait_for_step $((from + RANDOM % 40 + 1))
    sleep "$(rand 0 0.2)"
  else
    how=in-write; launch TESSERA_TEST_WRITE_PAUSE_MS=300
    wait_for_step $((from + RANDOM % 29 + 12))
    # The next write in progress (its temp file), then a kill inside it.
    until compgen -G "$run/*.tmp-$pid" > /dev/null || ! kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
    sleep "$(rand 0 0.25)"
  fi
  delay=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  if ! kill -0 "$pid" 2>/dev/null; then echo "kill9: the run ended before kill $k (finished, or refused: run it by hand to see why)" >&2; exit 1; fi
  at=$(last_step)
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  if compgen -G "$run/*.tmp-$pid" > /dev/null; then in_write=yes; inside=$((inside + 1)); else in_write=no; fi
  if [[ -f "$ckpt" ]]; then
    if tessera checkpoint verify "$ckpt" > /dev/null 2>&1; then verdict=intact; else verdict=CORRUPT; fi
    step=$(step_of "$ckpt")
  else
    verdict="none yet"; step="-"
  fi
  echo "| $k | $how | $from | ${delay} s | $at | $in_write | $step | $verdict |" >> "$report"
  echo "kill9: kill $k ($how, resumed from $from, after ${delay} s at logged step $at): inside a write: $in_write; checkpoint: $verdict at step $step"
  if [[ "$verdict" == CORRUPT ]]; then echo "kill9: FAILED: the checkpoint is corrupt after kill $k" >&2; exit 1; fi
done
tessera "${common[@]}" --out "$run" --resume > "$out/final.out"
resumes=$((resumes + 1))
if cmp -s "$out/straight/model.safetensors" "$run/model.safetensors"; then same=yes; else same=NO; fi
lines=$(wc -l < "$run/log.jsonl")
{
  echo
  echo "$kills kills ($inside inside a checkpoint write), $resumes resumes from a verified checkpoint; final model.safetensors byte-identical to the uninterrupted run's: $same; log.jsonl has $lines lines for 600 steps; stale temp files left: $(compgen -G "$run/*.tmp-*" | wc -l)."
} >> "$report"
cat "$report"
[[ "$same" == yes && "$lines" == 600 ]] || { echo "kill9: FAILED" >&2; exit 1; }
echo "kill9: passed"
