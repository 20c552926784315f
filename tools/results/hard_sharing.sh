#!/usr/bin/env bash
# Hard sharing versus single-task baselines on the procedural world (docs/RESULTS.md).
# Runs the demo recipe (one narrow ResNet shared by shapes-cls classification, objects-det
# detection and parts-seg segmentation), then each task alone from the same recipe (the other
# tasks' sampling weight set to 0) for the number of steps that task gets in the multi-task run
# (steps x weight / sum of weights), so every task sees the same number of batches both ways.
# Prints a Markdown table of the test metrics (metrics.json of each run).
# Usage: tools/results/hard_sharing.sh [OUT_DIR] [STEPS]     (defaults: runs/hard-sharing, the recipe's steps)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/runs/hard-sharing}"
cd "$root"
dotnet build src/Cli -c Release -v quiet -nologo >/dev/null
tessera() { dotnet run --no-build --project src/Cli -c Release -- "$@"; }
steps="${2:-$(python3 -c 'import json;print(json.load(open("recipes/demo.json"))["steps"])')}"
# Per-task steps from the recipe's weights.
read -r -a alone < <(python3 -c "
import json; r = json.load(open('recipes/demo.json')); w = [t.get('weight', 1) for t in r['tasks']]
print(' '.join(str(round($steps * x / sum(w))) for x in w))")
tessera train demo --steps "$steps" --out "$out/multi" | tail -1
count=${#alone[@]}
for ((t = 0; t < count; t++)); do
  overrides=()
  for ((o = 0; o < count; o++)); do [ "$o" -ne "$t" ] && overrides+=("tasks.$o.weight=0"); done
  tessera train demo --steps "${alone[$t]}" --out "$out/single-$t" "${overrides[@]}" | tail -1
done
python3 - "$out" "$count" <<'PY'
import json, sys
out, count = sys.argv[1], int(sys.argv[2])
recipe = json.load(open('recipes/demo.json'))
multi = json.load(open(f'{out}/multi/metrics.json'))
keys = {'classification': ['top1'], 'detection': ['mAP', 'AP50'], 'segmentation': ['mIoU', 'pixel_acc'], 'depth': ['rmse', 'abs_rel'], 'multi-label': ['mAP']}
print('| task (source) | metric | single-task | hard sharing | single-task steps | single-task seconds |')
print('|---|---|---|---|---|---|')
for t, task in enumerate(recipe['tasks']):
    single = json.load(open(f'{out}/single-{t}/metrics.json'))
    for k in keys[task['head']]:
        name = f"{task['name']}/{k}"
        print(f"| {task['name']} ({task['source']}) | {k} | {single[name]:.4f} | {multi[name]:.4f} | {single['steps']} | {single['seconds']} |")
print(f"\nhard sharing: {multi['steps']} steps, {multi['seconds']} s for all three tasks")
PY
