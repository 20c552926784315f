#!/usr/bin/env bash
# Step time of one process against N MPI ranks on this machine, interleaved (1 process, N ranks,
# 1 process, ...) so that load swings hit both; prints the seconds of each run and rank 0's summary
# of time in collectives. Usage: bash tools/distributed/step-time.sh [ranks=2] [rounds=3] [steps=40]
set -euo pipefail
ranks="${1:-2}"; rounds="${2:-3}"; steps="${3:-40}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 TERM=dumb
dotnet build src/Cli -c Release -v quiet -nologo >/dev/null
tessera="$repo_root/src/Cli/bin/Release/net10.0/tessera"
cores="$(nproc)"
threads=$(( cores / ranks > 0 ? cores / ranks : 1 ))
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
args=(demo "devices=$ranks" --steps "$steps" eval_batches=1 --quiet)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $cores cores; commit $(git rev-parse --short HEAD)"
for round in $(seq 1 "$rounds"); do
  rm -rf "$work"/*
  echo "round $round, 1 process (load $(cut -d' ' -f1 /proc/loadavg)): $("$tessera" train "${args[@]}" --threads "$cores" --out "$work/one" | grep -o '"seconds":[0-9.]*')"
  echo "round $round, $ranks ranks (load $(cut -d' ' -f1 /proc/loadavg)): $(mpirun -np "$ranks" --oversubscribe "$tessera" train "${args[@]}" --threads "$threads" --distributed --out "$work/many" 2>"$work/err" | grep -o '"seconds":[0-9.]*')"
  grep '^distributed:' "$work/err" || true
done
