#!/usr/bin/python3
"""Tessera vs PyTorch, side by side in one run.

  OPENBLAS_CORETYPE=Cooperlake /usr/bin/python3 tools/bench/compare.py [names...] [--rounds 3] [--markdown]

For every benchmark, alternates the two sides for several rounds (Tessera through
`tessera bench NAME --json`, PyTorch in this process) and reports the median of each side's
medians and ratio = PyTorch ms / Tessera ms (>= 1 means Tessera is faster).
"""
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_bench  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TESSERA = os.path.join(ROOT, "src", "Cli", "bin", "Release", "net10.0", "tessera.dll")


def tessera(name, seconds):
    out = subprocess.run(["dotnet", TESSERA, "bench", name, "--json", "--threads", "2", "--seconds", str(seconds)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    argv = sys.argv[1:]
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 3
    markdown = "--markdown" in argv
    names = [a for a in argv if not a.startswith("--") and not a.isdigit()]
    if "OPENBLAS_CORETYPE" not in os.environ:
        print("warning: OPENBLAS_CORETYPE is not set; PyTorch's OpenBLAS may use a slow generic kernel", file=sys.stderr)
    subprocess.run(["dotnet", "build", os.path.join(ROOT, "src", "Cli"), "-c", "Release", "-v", "q", "-nologo"], check=True, capture_output=True)
    selected = [n for n in torch_bench.cases() if not names or any(n == a or n.startswith(a) for a in names)]
    rows = []
    for name in selected:
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(tessera(name, 1.0))
            theirs.append(torch_bench.run(name))
        t_ms = statistics.median(r["ms"] for r in ours)
        p_ms = statistics.median(r["ms"] for r in theirs)
        row = {"bench": name, "tessera_ms": t_ms, "torch_ms": p_ms, "ratio": p_ms / t_ms,
               "tessera_gflops": statistics.median(r["gflops"] for r in ours), "torch_gflops": statistics.median(r["gflops"] for r in theirs)}
        if "images_per_s" in ours[0]:
            row["tessera_images_per_s"] = statistics.median(r["images_per_s"] for r in ours)
        rows.append(row)
        if not markdown:
            print(json.dumps(row), flush=True)
    if markdown:
        print("| bench | Tessera ms | PyTorch ms | ratio (PyTorch/Tessera) | Tessera GFLOP/s | PyTorch GFLOP/s |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in rows:
            g = lambda v: f"{v:.1f}" if v else "-"
            print(f"| {r['bench']} | {r['tessera_ms']:.2f} | {r['torch_ms']:.2f} | {r['ratio']:.2f} | {g(r['tessera_gflops'])} | {g(r['torch_gflops'])} |")


if __name__ == "__main__":
    main()
