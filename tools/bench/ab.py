#!/usr/bin/python3
"""Interleaved A/B of two (or more) Tessera builds on the same benchmarks.

  dotnet build src/Cli -c Release && cp -r src/Cli/bin/Release/net10.0 /tmp/ab/before
  ... change, build ...                && cp -r src/Cli/bin/Release/net10.0 /tmp/ab/after
  /usr/bin/python3 tools/bench/ab.py --rounds 5 --threads 1 sgemm_1024,conv_fwd /tmp/ab/before /tmp/ab/after

The host is shared: a run's wall time swings by 30% or more with the neighbours' load, so a
single before/after pair proves little. This alternates the builds round by round (each run a
fresh process, `tessera bench NAMES --json`) and prints, per benchmark and build, the median and
the minimum over the rounds; the minimum approximates the uncontended speed. With --threads 1
the cores do not contend with each other either.
"""
import argparse
import json
import os
import statistics
import subprocess


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benches", help="comma-separated bench names or prefixes (as `tessera bench` takes them)")
    parser.add_argument("builds", nargs="+", help="folders holding a built tessera.dll")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", default="2")
    parser.add_argument("--seconds", default="1")
    args = parser.parse_args()
    for build in args.builds:
        if not os.path.isfile(os.path.join(build, "tessera.dll")):
            parser.error(f"{build}: expected a folder with tessera.dll (a copy of src/Cli/bin/Release/net10.0), found none")
    results = {}
    for _ in range(args.rounds):
        for build in args.builds:
            out = subprocess.run(["dotnet", os.path.join(build, "tessera.dll"), "bench", *args.benches.split(","), "--json",
                                  "--threads", args.threads, "--seconds", args.seconds], check=True, capture_output=True, text=True).stdout
            for line in out.splitlines():
                if line.startswith("{"):
                    row = json.loads(line)
                    results.setdefault(row["bench"], {}).setdefault(build, []).append(row["ms"])
    for bench, per_build in results.items():
        print(bench)
        for build, times in per_build.items():
            print(f"   {build:30s} median {statistics.median(times):10.3f} ms   min {min(times):10.3f} ms   " + " ".join(f"{t:.3f}" for t in times))


if __name__ == "__main__":
    main()
