#!/usr/bin/env bash
# The 2-rank equivalence check (issue 15): `mpirun -np 2 tessera train RECIPE --distributed` must
# write the same final weights (byte for byte) and the same per-step losses as the one-process run
# with the same virtual devices, for the demo recipe, GPPF's SIMT recipe (soft and hard routing)
# and, on the CUDA backend's emulator (GPU tensors staged through the host), the SIMT shapes
# recipe. Also checks that --distributed outside mpirun is a clear error. Installs Open MPI
# (Debian's openmpi-bin) when mpirun is missing. Run from anywhere:
#   bash tools/distributed/equivalence.sh        (1-2 minutes on 2 quiet cores; ~5 loaded)
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

if ! command -v mpirun >/dev/null; then
  echo "equivalence: installing Open MPI (openmpi-bin)"
  if [[ $(id -u) -eq 0 ]]; then apt-get update -qq && apt-get install -y -qq openmpi-bin >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq openmpi-bin >/dev/null; fi
fi
# Root in containers; TERM=dumb so .NET writes no terminal escapes into the ranks' output.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 TERM=dumb
dotnet build src/Cli -c Release -v quiet -nologo >/dev/null
tessera="$repo_root/src/Cli/bin/Release/net10.0/tessera"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Losses and metrics per step, without the wall-clock field.
steps_of() { sed -E 's/"images_per_s":[0-9.eE+-]+,?//' "$1"; }

check() {
  local name="$1"; shift
  "$tessera" train "$@" --threads 1 --quiet --out "$work/$name-1" >/dev/null
  mpirun -np 2 --oversubscribe "$tessera" train "$@" --threads 1 --quiet --distributed --out "$work/$name-2" >/dev/null
  if ! cmp -s "$work/$name-1/model.safetensors" "$work/$name-2/model.safetensors"; then
    echo "equivalence: $name: the 2-rank run's final weights differ from the one-process run's" >&2; exit 1
  fi
  if ! diff <(steps_of "$work/$name-1/log.jsonl") <(steps_of "$work/$name-2/log.jsonl") >&2; then
    echo "equivalence: $name: the 2-rank run's step log (losses, metrics) differs from the one-process run's" >&2; exit 1
  fi
  echo "equivalence: $name: 2 ranks = 1 process ($(wc -l < "$work/$name-1/log.jsonl") steps, weights byte-identical)"
}

check demo demo devices=2 --steps 4 --batch 4 --size 32 tasks.1.batch=2 eval_batches=1
check gppf gppf --steps 4 --batch 4 eval_batches=1
check gppf-hard gppf model.routing=hard --steps 4 --batch 4 eval_batches=1
# GPU tensors stage through host memory: the CUDA backend on the PTX emulator (tiny: the emulator interprets PTX).
check shapes-simt-emu shapes-simt --device cuda-emu --steps 2 --batch 2 tasks.1.batch=2 eval_batches=1

if "$tessera" train demo --steps 1 --distributed --out "$work/outside" 2>"$work/outside.err"; then
  echo "equivalence: --distributed outside mpirun was accepted" >&2; exit 1
fi
grep -q "not started by mpirun" "$work/outside.err" || { echo "equivalence: unexpected error outside mpirun: $(cat "$work/outside.err")" >&2; exit 1; }
echo "equivalence: --distributed outside mpirun is refused: $(cat "$work/outside.err")"
