#!/usr/bin/env bash
# Soak test (issue 18 item 4): trains a recipe (default: demo) for a fixed wall time in one
# process, sampling RSS, GC heap, pool size, open files and threads every 10 s into
# OUT/resources.csv, then writes OUT/resources.svg and OUT/soak.md (growth after warm-up).
#
#   tools/reliability/soak.sh [--minutes 60] [--out runs/soak] [--device cpu] [--warmup 10] [--window 5] [-- extra train args]
#
# The binaries are copied to OUT/bin first, so rebuilding the repository while the soak runs
# does not change the program under test. Runs at nice 5.
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes=60; out=runs/soak; device=cpu; warmup=10; window=5; recipe=demo
while [[ $# -gt 0 ]]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --window) window="$2"; shift 2 ;;
    --recipe) recipe="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "soak.sh: unknown argument '$1' (expected --minutes, --out, --device, --warmup, --window, --recipe, or -- then train arguments)" >&2; exit 2 ;;
  esac
done
dotnet build src/Cli -c Release -v q -nologo >/dev/null
mkdir -p "$out"
rm -rf "$out/bin" && cp -r src/Cli/bin/Release/net10.0 "$out/bin"
echo "soak: $recipe on $device for $minutes min -> $out (log: $out/train.out)"
# A step count no run reaches: the wall-clock limit ends the run (SIGTERM; samples are flushed per line).
set +e
timeout --signal=TERM "$((minutes * 60))" nice -n 5 dotnet "$out/bin/tessera.dll" train "$recipe" --steps 100000000 \
  --device "$device" --out "$out/run" --overwrite --quiet --resource-log "$out/resources.csv" --resource-interval 10 "$@" \
  >"$out/train.out" 2>&1
rc=$?
set -e
if [[ $rc -ne 124 && $rc -ne 0 ]]; then echo "soak: train exited with $rc before the time limit (see $out/train.out)" >&2; exit 1; fi
dotnet "$out/bin/tessera.dll" soak-report "$out/resources.csv" --warmup "$warmup" --window "$window" --out "$out"
