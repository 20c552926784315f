#!/usr/bin/python3
"""Tessera vs PyTorch 2.6 and PyTorch 1.13, side by side in one run.

  python3 tools/bench/compare.py [names or prefixes...] [--rounds 3] [--peers 2.6,1.13] [--markdown] [--no-build]

For every benchmark and every round, runs Tessera (`tessera bench NAME --json`) and then each peer
(`tools/bench/torch_bench.py NAME --json`), each in a fresh process, so the sides alternate and
share the machine's load, and peak memory is per bench. A row gives each side's median over the
rounds, ratio = peer ms / Tessera ms per peer (>= 1: Tessera is faster), the lower of those
ratios (the one that counts), throughput, parameter counts (train steps) and peak resident memory.

Peers (../../../shared/specs/performance.md):
  2.6   ../shared/peers/torch26 (a Debian 13 chroot; `torch26 setup` once) — or $TORCH26
  1.13  /usr/bin/python3 (Debian 12's python3-torch) with OPENBLAS_CORETYPE=Cooperlake and
        GLIBC_TUNABLES keeping freed memory (both only set when the environment lacks them)
The markdown output starts with the date, commit, CPU model (as each side reported it), peer
versions and the command, so a table pasted into docs/PERFORMANCE.md carries its provenance.
"""
import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TESSERA = os.path.join(ROOT, "src", "Cli", "bin", "Release", "net10.0", "tessera.dll")
TORCH_BENCH = os.path.join(HERE, "torch_bench.py")
TUNABLES = "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=17179869184"


def peer_command(peer):
    """(argv prefix, environment) that runs torch_bench.py under one peer."""
    if peer == "2.6":
        torch26 = os.environ.get("TORCH26", os.path.abspath(os.path.join(ROOT, "..", "shared", "peers", "torch26")))
        if not os.path.isfile(torch26):
            sys.exit(f"compare.py: peer 2.6 expected the runner {torch26} (or $TORCH26), found no file; see shared/specs/performance.md, or pass --peers 1.13")
        return [torch26, TORCH_BENCH], dict(os.environ)
    if peer == "1.13":
        env = dict(os.environ)
        env.setdefault("OPENBLAS_CORETYPE", "Cooperlake")  # its OpenBLAS 0.3.21 does not know these CPUs
        env.setdefault("GLIBC_TUNABLES", TUNABLES)          # keep freed memory: fresh pages cost ~0.4 GB/s here
        return ["/usr/bin/python3", TORCH_BENCH], env
    sys.exit(f"compare.py: --peers expected a comma-separated list of 2.6 and 1.13, found '{peer}'")


def run_json(argv, env=None):
    """Runs one benchmark process; returns its last JSON line. A failure ends the comparison with the process's stderr."""
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stderr[-3000:])
        sys.exit(f"compare.py: {shlex.join(argv)} failed (exit code {done.returncode}); its stderr is above")
    return json.loads(lines[-1])


def list_names(argv, env=None):
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        sys.exit(f"compare.py: {shlex.join(argv)} failed (exit code {done.returncode}); is this peer installed?")
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def commit():
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
        return head + ("+uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def summarise(name, ours, theirs, peers):
    """One row: medians per side, ratios per peer and the lower one, throughput, parameters, peak memory (max over rounds)."""
    median = lambda rows, key: statistics.median(r.get(key, 0) for r in rows)  # noqa: E731
    row = {"bench": name, "tessera_ms": median(ours, "ms"), "tessera_cpu_ms": median(ours, "cpu_ms"),
           "tessera_gflops": median(ours, "gflops"), "tessera_peak_mb": max(r.get("peak_mb", 0) for r in ours)}
    if "images_per_s" in ours[0]:
        row["tessera_images_per_s"] = median(ours, "images_per_s")
    if "params" in ours[0]:
        row["tessera_params"] = ours[0]["params"]
    for peer in peers:
        rows = theirs[peer]
        row[f"{peer}_ms"] = median(rows, "ms")
        row[f"{peer}_ratio"] = row[f"{peer}_ms"] / row["tessera_ms"]
        row[f"{peer}_gflops"] = median(rows, "gflops")
        row[f"{peer}_peak_mb"] = max(r.get("peak_mb", 0) for r in rows)
        if "images_per_s" in rows[0]:
            row[f"{peer}_images_per_s"] = median(rows, "images_per_s")
        if "params" in rows[0]:
            row[f"{peer}_params"] = rows[0]["params"]
    row["ratio"] = min(row[f"{peer}_ratio"] for peer in peers)
    return row


def markdown(rows, peers, header):
    out = [f"- {line}" for line in header] + [""]
    columns = ["bench", "Tessera ms"] + [f"{p} ms" for p in peers] + [f"ratio vs {p}" for p in peers] + ["ratio (lower)", "GFLOP/s or img/s (Tessera / " + " / ".join(peers) + ")",
                                                                                                      "peak MB (Tessera / " + " / ".join(peers) + ")"]
    if any("tessera_params" in r for r in rows):
        columns.append("params (Tessera / " + " / ".join(peers) + ")")
    out.append("| " + " | ".join(columns) + " |")
    out.append("|---|" + "---:|" * (len(columns) - 1))
    for r in rows:
        rate = "images_per_s" if "tessera_images_per_s" in r else "gflops"
        rates = [r.get(f"tessera_{rate}", 0)] + [r.get(f"{p}_{rate}", 0) for p in peers]
        cells = [r["bench"], f"{r['tessera_ms']:.2f}"] + [f"{r[f'{p}_ms']:.2f}" for p in peers] + [f"{r[f'{p}_ratio']:.2f}" for p in peers]
        cells += [f"**{r['ratio']:.2f}**", " / ".join(f"{v:.1f}" if v else "-" for v in rates),
                  " / ".join(f"{v:.0f}" for v in [r["tessera_peak_mb"]] + [r[f"{p}_peak_mb"] for p in peers])]
        if "params" in columns[-1]:
            cells.append(" / ".join(str(v) for v in [r.get("tessera_params", "-")] + [r.get(f"{p}_params", "-") for p in peers]))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="benchmark names or prefixes (all that both sides have when omitted)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per benchmark; each side's median counts (default 3)")
    parser.add_argument("--peers", default="2.6,1.13", help="comma-separated PyTorch peers: 2.6, 1.13 (default both)")
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum timed seconds per process (default 1)")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table with its provenance instead of JSON lines")
    parser.add_argument("--threads", type=int, default=2, help="threads on every side (default 2; 1 gives load-robust figures on a busy host)")
    parser.add_argument("--no-build", action="store_true", help="use the existing src/Cli/bin/Release build")
    args = parser.parse_args()
    if args.rounds < 1 or args.threads < 1:
        parser.error(f"--rounds and --threads expected at least 1, found {args.rounds} and {args.threads}")
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    commands = {peer: peer_command(peer) for peer in peers}
    if not args.no_build:
        print("compare.py: dotnet build src/Cli -c Release ...", file=sys.stderr, flush=True)
        build = subprocess.run(["dotnet", "build", os.path.join(ROOT, "src", "Cli"), "-c", "Release", "-v", "q", "-nologo"], capture_output=True, text=True)
        if build.returncode != 0:
            sys.stderr.write(build.stdout[-3000:])
            sys.exit("compare.py: the Release build of src/Cli failed (output above)")
    available = list_names(["dotnet", TESSERA, "bench", "--list"])
    for peer, (argv, env) in commands.items():
        theirs = set(list_names(argv + ["--list"], env))
        available = [n for n in available if n in theirs]
    selected = [n for n in available if not args.names or any(n.startswith(a) for a in args.names)]
    unmatched = [a for a in args.names if not any(n.startswith(a) for n in available)]
    if unmatched or not selected:
        sys.exit(f"compare.py: no benchmark that Tessera and every peer ({', '.join(peers)}) have is named or starts with {', '.join(unmatched) or 'the given names'}")
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_before, revision = os.getloadavg()[0], commit()  # the commit measured, not the one at the end
    rows, cpus, versions = [], {}, {}
    for index, name in enumerate(selected, 1):
        ours, theirs = [], {peer: [] for peer in peers}
        for round_index in range(args.rounds):
            # Interleaved: Tessera, then each peer, every round, each a fresh process.
            ours.append(run_json(["dotnet", TESSERA, "bench", name, "--json", "--threads", str(args.threads), "--seconds", str(args.seconds)]))
            cpus.setdefault("Tessera", ours[-1].get("cpu", "?"))
            for peer, (argv, env) in commands.items():
                theirs[peer].append(run_json(argv + [name, "--json", "--seconds", str(args.seconds), "--threads", str(args.threads)], env))
                cpus.setdefault(peer, theirs[peer][-1].get("cpu", "?"))
                versions.setdefault(peer, theirs[peer][-1].get("torch", "?"))
            times = ", ".join([f"Tessera {ours[-1]['ms']:.2f}"] + [f"{p} {theirs[p][-1]['ms']:.2f}" for p in peers])
            print(f"[{index}/{len(selected)}] {name} round {round_index + 1}/{args.rounds}: {times} ms", file=sys.stderr, flush=True)
        row = summarise(name, ours, theirs, peers)
        rows.append(row)
        if not args.markdown:
            print(json.dumps(row), flush=True)
    if len(set(cpus.values())) > 1:
        print(f"compare.py: warning: the sides report different CPUs: {cpus}", file=sys.stderr)
    if args.markdown:
        ended = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M UTC")
        cpu = cpus.get("Tessera", "?") if len(set(cpus.values())) == 1 else "; ".join(f"{k}: {v}" for k, v in cpus.items())
        load = f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end" + (" (a loaded machine: see the Method notes)" if max(load_before, os.getloadavg()[0]) > 2.5 else "")
        header = [f"{started} to {ended}, commit {revision}; {load}",
                  f"CPU: {cpu}; {args.threads} thread{'s' if args.threads > 1 else ''} on every side",
                  "peers: " + ", ".join(f"{p} = torch {versions.get(p, '?')}" for p in peers),
                  f"command: `python3 tools/bench/compare.py {shlex.join(sys.argv[1:])}`",
                  f"each side's median over {args.rounds} rounds (a fresh process per side and round, sides alternating); ratio = peer ms / Tessera ms, the lower one counts"]
        print(markdown(rows, peers, header))


if __name__ == "__main__":
    main()
