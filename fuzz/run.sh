#!/usr/bin/env bash
# Fuzzes every parser that reads outside input with afl++ and SharpFuzz (issue 18 item 2).
#
#   fuzz/run.sh [--execs 1000000] [--max-minutes 20] [TARGET...]     (default: every target)
#
# Targets (fuzz/Tessera.Fuzz/FuzzTargets.cs): safetensors, recipe, idx, ptx, image. Each runs
# until --execs executions or --max-minutes, whichever comes first, at nice 10, starting from
# fuzz/corpus/TARGET. Findings land in fuzz/out/TARGET/default/{crashes,hangs}/ and are replayed
# through the harness at the end (the exception and stack of each). A finding, once fixed, is
# copied into fuzz/corpus/TARGET so the corpus-replay test (FuzzCorpusTests) keeps it fixed.
# Needs: afl++ (apt-get install afl++) and SharpFuzz.CommandLine 2.3.0
# (dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0); installed here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
execs=1000000; minutes=20; targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --execs) execs="$2"; shift 2 ;;
    --max-minutes) minutes="$2"; shift 2 ;;
    -*) echo "fuzz/run.sh: unknown option '$1' (expected --execs N, --max-minutes M, then target names)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(safetensors recipe idx ptx image)

export PATH="$PATH:$HOME/.dotnet/tools"
command -v afl-fuzz >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++; }
command -v sharpfuzz >/dev/null || dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0

# Build, copy, and instrument the copies of the assemblies that hold the parsers.
out=fuzz/out
dotnet build fuzz/Tessera.Fuzz -c Release -v q -nologo >/dev/null
rm -rf "$out/bin" && mkdir -p "$out" && cp -r fuzz/Tessera.Fuzz/bin/Release/net10.0 "$out/bin"
for assembly in Tessera.Engine.dll Tessera.Models.dll; do sharpfuzz "$out/bin/$assembly" >/dev/null; done

# dotnet is not an afl-instrumented binary (SharpFuzz speaks the fork-server protocol itself).
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_FORKSRV_INIT_TMOUT=60000
status=0
printf '%-12s %12s %10s %9s %8s %6s %s\n' target execs seconds execs/s crashes hangs corpus > "$out/summary.txt"
for target in "${targets[@]}"; do
  [[ -d "fuzz/corpus/$target" ]] || { echo "fuzz/run.sh: no corpus fuzz/corpus/$target (targets: safetensors recipe idx ptx image)" >&2; exit 2; }
  rm -rf "${out:?}/$target"
  echo "fuzz: $target (up to $execs execs or $minutes min)"
  nice -n 10 afl-fuzz -i "fuzz/corpus/$target" -o "$out/$target" -t 5000 -m none -E "$execs" -V "$((minutes * 60))" \
    -- dotnet "$out/bin/Tessera.Fuzz.dll" "$target" > "$out/$target.log" 2>&1 || { echo "afl-fuzz failed for $target: see $out/$target.log" >&2; tail -20 "$out/$target.log" >&2; status=1; continue; }
  stats="$out/$target/default/fuzzer_stats"
  get() { awk -F' *: *' -v k="$1" '$1==k {print $2}' "$stats"; }
  printf '%-12s %12s %10s %9s %8s %6s %s\n' "$target" "$(get execs_done)" "$(get run_time)" "$(get execs_per_sec)" \
    "$(get saved_crashes)" "$(get saved_hangs)" "$(get corpus_count)" >> "$out/summary.txt"
  findings=$(find "$out/$target/default/crashes" "$out/$target/default/hangs" -type f -name 'id:*' 2>/dev/null | sort)
  if [[ -n "$findings" ]]; then
    status=1
    echo "findings for $target (replayed through the harness):"
    # shellcheck disable=SC2086
    timeout 300 dotnet fuzz/Tessera.Fuzz/bin/Release/net10.0/Tessera.Fuzz.dll "$target" $findings | tee "$out/$target.findings.txt" | head -40 || true
  fi
done
cat "$out/summary.txt"
exit $status
