#!/usr/bin/python3
"""Tessera's GPU kernels vs PyTorch CUDA (cuBLAS / cuDNN), side by side on one NVIDIA GPU.

  /usr/bin/python3 tools/bench/gpu_compare.py [names...] [--rounds 3] [--markdown] [--device cuda]

Benchmarks are the GPU suite of `tessera bench --device cuda` (src/Models/Benchmarks/GpuBenchSuite.cs):
f32 GEMM (square, transposed views, batched) and conv2d forward / forward+backward on ResNet-style
layers. For every name both sides run in a fresh process, alternating for several rounds; each side
times its own runs with a device synchronise after each (Tessera: Stopwatch around launch + sync;
PyTorch: torch.cuda.synchronize() around each run), median of repeats after warm-up. The report gives
both medians, TFLOP/s and ratio = PyTorch ms / Tessera ms (>= 1 means Tessera is faster).

Needs a CUDA build of PyTorch and an NVIDIA GPU with its driver; without them it stops at once with
exit code 2 and says which part is missing (nothing is timed on the CPU instead). PyTorch runs with
TF32 disabled so both sides do true f32 arithmetic.
"""
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TESSERA = os.path.join(ROOT, "src", "Cli", "bin", "Release", "net10.0", "tessera.dll")

CONV_LAYERS = [
    ("32x64x56_64k3s1", 64, 56, 64, 3, 1, 1),
    ("32x128x28_128k3s1", 128, 28, 128, 3, 1, 1),
    ("32x256x14_256k3s1", 256, 14, 256, 3, 1, 1),
    ("32x64x56_256k1s1", 64, 56, 256, 1, 1, 1),
    ("32x3x112_64k7s2", 3, 112, 64, 7, 2, 1),
    ("32x64x56_64dw3s1", 64, 56, 64, 3, 1, 64),
]


def fail(message):
    print(f"gpu_compare: {message}", file=sys.stderr)
    sys.exit(2)


def cases(torch, device):
    """name -> (flops, factory returning the function to time); shapes match GpuBenchSuite one for one."""
    def matmul(m, n, k, ta=False, tb=False):
        def make():
            a = torch.randn(k, m, device=device).t() if ta else torch.randn(m, k, device=device)
            b = torch.randn(n, k, device=device).t() if tb else torch.randn(k, n, device=device)
            return lambda: torch.matmul(a, b)
        return make

    def bmm(batch, m, n, k):
        def make():
            a = torch.randn(batch, m, k, device=device)
            b = torch.randn(batch, k, n, device=device)
            return lambda: torch.bmm(a, b)
        return make

    def conv(channels, size, filters, kernel, stride, groups, backward):
        def make():
            x = torch.randn(32, channels, size, size, device=device, requires_grad=backward)
            w = torch.randn(filters, channels // groups, kernel, kernel, device=device, requires_grad=backward)

            def run():
                y = torch.nn.functional.conv2d(x, w, None, stride, kernel // 2, 1, groups)
                if backward:
                    y.backward(torch.ones_like(y))
                    x.grad = None
                    w.grad = None
            return run
        return make

    table = {"gpu_sgemm_smoke": (2.0 * 64 ** 3, matmul(64, 64, 64))}
    for n in (1024, 2048, 4096, 8192):
        table[f"gpu_sgemm_{n}"] = (2.0 * n ** 3, matmul(n, n, n))
    table["gpu_sgemm_4096x4096x4096_nt"] = (2.0 * 4096 ** 3, matmul(4096, 4096, 4096, tb=True))
    table["gpu_sgemm_4096x4096x4096_tn"] = (2.0 * 4096 ** 3, matmul(4096, 4096, 4096, ta=True))
    table["gpu_bmm_64x256x256x64"] = (2.0 * 64 * 256 * 256 * 64, bmm(64, 256, 256, 64))
    for name, channels, size, filters, kernel, stride, groups in CONV_LAYERS:
        out = (size + 2 * (kernel // 2) - kernel) // stride + 1
        flops = 2.0 * 32 * filters * out * out * (channels // groups) * kernel * kernel
        table[f"gpu_conv_fwd_{name}"] = (flops, conv(channels, size, filters, kernel, stride, groups, False))
        table[f"gpu_conv_fwdbwd_{name}"] = (3 * flops, conv(channels, size, filters, kernel, stride, groups, True))
    return table


def torch_bench(name, device, min_seconds=1.0, min_repeats=5, warmup=3):
    """The PyTorch side of one benchmark, in this process: median ms of synchronised runs."""
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    flops, make = cases(torch, device)[name]
    fn = make()
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times, start = [], time.perf_counter()
    while len(times) < min_repeats or (time.perf_counter() - start < min_seconds and len(times) < 1000):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    ms = times[len(times) // 2]
    return {"bench": name, "ms": ms, "gflops": flops / (ms * 1e6), "device": torch.cuda.get_device_name()}


def check_torch(device):
    try:
        import torch
    except ImportError:
        fail("PyTorch is not installed for this interpreter; install a CUDA build of PyTorch")
    if not torch.cuda.is_available():
        fail(f"PyTorch {torch.__version__} sees no CUDA device (torch.cuda.is_available() is False; "
             f"built with CUDA {torch.version.cuda}). This comparison needs an NVIDIA GPU, its driver and a CUDA build of PyTorch.")
    return torch


def tessera(name, device, seconds):
    proc = subprocess.run(["dotnet", TESSERA, "bench", name, "--device", device, "--json", "--seconds", str(seconds)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"tessera bench {name} --device {device} failed (exit {proc.returncode}):\n{proc.stderr.strip() or proc.stdout.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def torch_side(name, device):
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-child", name, "--device", device],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"PyTorch side of {name} failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    argv = sys.argv[1:]
    device = argv[argv.index("--device") + 1] if "--device" in argv else "cuda"
    if "--torch-child" in argv:
        check_torch(device)
        print(json.dumps(torch_bench(argv[argv.index("--torch-child") + 1], device)))
        return
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 3
    markdown = "--markdown" in argv
    skip = {device, str(rounds)}
    names = [a for a in argv if not a.startswith("--") and a not in skip]
    torch = check_torch(device)
    build = subprocess.run(["dotnet", "build", os.path.join(ROOT, "src", "Cli"), "-c", "Release", "-v", "q", "-nologo"], capture_output=True, text=True)
    if build.returncode != 0:
        fail("building the tessera CLI failed:\n" + build.stdout[-2000:])
    selected = [n for n in cases(torch, device) if not names or any(n == a or n.startswith(a) for a in names)]
    if not selected:
        fail(f"no GPU benchmark matches {names}")
    rows = []
    for name in selected:
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(tessera(name, device, 1.0))
            theirs.append(torch_side(name, device))
        t_ms = statistics.median(r["ms"] for r in ours)
        p_ms = statistics.median(r["ms"] for r in theirs)
        rows.append({"bench": name, "tessera_ms": t_ms, "torch_ms": p_ms, "ratio": p_ms / t_ms,
                     "tessera_tflops": statistics.median(r["gflops"] for r in ours) / 1000,
                     "torch_tflops": statistics.median(r["gflops"] for r in theirs) / 1000})
        print(json.dumps(rows[-1]), file=sys.stderr)
    print(f"device: {theirs[0]['device']}, rounds: {rounds}")
    if markdown:
        print("| bench | Tessera ms | PyTorch ms | Tessera TFLOP/s | PyTorch TFLOP/s | PyTorch / Tessera |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['bench']} | {r['tessera_ms']:.3f} | {r['torch_ms']:.3f} | {r['tessera_tflops']:.2f} | {r['torch_tflops']:.2f} | {r['ratio']:.2f} |")
    else:
        for r in rows:
            print(json.dumps(r))


if __name__ == "__main__":
    main()
