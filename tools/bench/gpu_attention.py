#!/usr/bin/python3
"""Flash attention on a real NVIDIA GPU: Tessera's C# kernels against PyTorch CUDA.

  /usr/bin/python3 tools/bench/gpu_attention.py [--seconds 1] [--json]

The PyTorch side times torch.nn.functional.scaled_dot_product_attention in float32 (what Tessera
computes: SIMT f32, no tensor cores) and, for reference, in bfloat16 (FlashAttention-2 on tensor
cores), forward and forward + backward, on the shapes of the gpu_attn_* cases of
src/Models/Benchmarks/GpuBenchSuite.cs. The Tessera side runs `tessera bench --device cuda
gpu_attn --json` and reads its JSON lines. Both use CUDA events / device synchronisation around each repeat and report
the median. Without a CUDA GPU the script stops at once with exit code 2 and says why.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHAPES = [(8, 4, 256, 64, False), (4, 8, 1024, 64, False), (4, 8, 1024, 64, True), (1, 16, 4096, 64, True), (4, 8, 1024, 128, False)]


def require_gpu():
    try:
        import torch
    except ImportError as e:
        sys.exit(f"gpu_attention.py: PyTorch is not importable ({e}); install a CUDA build of PyTorch for /usr/bin/python3")
    if not torch.cuda.is_available():
        sys.stderr.write("gpu_attention.py: no CUDA GPU: torch.cuda.is_available() is False "
                         f"(torch {torch.__version__}, built with CUDA {torch.version.cuda}). "
                         "This benchmark compares GPU kernels and needs an NVIDIA GPU with its driver.\n")
        sys.exit(2)
    return torch


def name_of(batch, heads, tokens, dim, causal):
    return f"b{batch}h{heads}t{tokens}d{dim}{'_causal' if causal else ''}"


def torch_side(torch, seconds):
    import torch.nn.functional as F
    results = {}
    # torch < 2.0 has no fused SDPA: fall back to the explicit formula (torch's own "math" backend).
    sdpa = getattr(F, "scaled_dot_product_attention", None)
    if sdpa is None:
        print("# torch has no scaled_dot_product_attention (< 2.0): timing the explicit softmax(q·kᵀ/√d)·v instead", file=sys.stderr)

        def sdpa(q, k, v, is_causal=False):
            scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
            if is_causal:
                keep = torch.ones(scores.shape[-2:], dtype=torch.bool, device=q.device).tril()
                scores = scores.masked_fill(~keep, float("-inf"))
            return torch.softmax(scores, -1) @ v

    def timed(fn):
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        times, spent = [], 0.0
        while len(times) < 5 or (spent < seconds * 1000 and len(times) < 1000):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
            spent += times[-1]
        return statistics.median(times)

    g = torch.Generator(device="cuda").manual_seed(3)
    for batch, heads, tokens, dim, causal in SHAPES:
        name = name_of(batch, heads, tokens, dim, causal)
        for dtype, tag in ((torch.float32, "f32"), (torch.bfloat16, "bf16")):
            q, k, v, gout = (torch.randn(batch, heads, tokens, dim, device="cuda", generator=g).to(dtype) for _ in range(4))
            with torch.no_grad():
                results[(f"attn_fwd_{name}", tag)] = timed(lambda: sdpa(q, k, v, is_causal=causal))
            for t in (q, k, v):
                t.requires_grad_(True)

            def step():
                sdpa(q, k, v, is_causal=causal).backward(gout)
                q.grad = k.grad = v.grad = None
            results[(f"attn_fwdbwd_{name}", tag)] = timed(step)
    return results


def tessera_side(seconds):
    command = ["dotnet", "run", "-c", "Release", "--project", os.path.join(ROOT, "src", "Cli"), "--",
               "bench", "--device", "cuda", "--json", "--seconds", str(seconds), "gpu_attn_fwd_b", "gpu_attn_fwdbwd_b"]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"gpu_attention.py: the Tessera side failed (exit {run.returncode}):\n{run.stderr.strip()}")
    # Tessera names the cases gpu_attn_*; the table uses the PyTorch side's attn_* names.
    return {line["bench"][len("gpu_"):]: line["ms"] for line in map(json.loads, filter(None, run.stdout.splitlines())) if "bench" in line}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum timed seconds per case and side")
    parser.add_argument("--json", action="store_true", help="one JSON object per case instead of a table")
    options = parser.parse_args()
    torch = require_gpu()
    theirs = torch_side(torch, options.seconds)
    ours = tessera_side(options.seconds)
    print(f"# device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    if not options.json:
        print(f"{'bench':<36} {'tessera f32 ms':>15} {'torch f32 ms':>13} {'ratio':>7} {'torch bf16 ms':>14}")
    for batch, heads, tokens, dim, causal in SHAPES:
        for kind in ("fwd", "fwdbwd"):
            bench = f"attn_{kind}_{name_of(batch, heads, tokens, dim, causal)}"
            t, f32, bf16 = ours.get(bench), theirs[(bench, "f32")], theirs[(bench, "bf16")]
            if options.json:
                print(json.dumps({"bench": bench, "tessera_ms": t, "torch_f32_ms": round(f32, 4), "torch_bf16_ms": round(bf16, 4)}))
            else:
                ratio = f"{t / f32:7.2f}" if t else "      -"
                print(f"{bench:<36} {t if t else float('nan'):>15.3f} {f32:>13.3f} {ratio} {bf16:>14.3f}")


if __name__ == "__main__":
    main()
