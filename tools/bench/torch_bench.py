#!/usr/bin/python3
"""The PyTorch side of `tessera bench`: the same names, shapes and flop counts.

The same script runs under both peers (see ../../../shared/specs/performance.md):
  ../shared/peers/torch26 tools/bench/torch_bench.py [names...] [--json]          # PyTorch 2.6
  OPENBLAS_CORETYPE=Cooperlake GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=17179869184 \
    /usr/bin/python3 tools/bench/torch_bench.py [names...] [--json]               # PyTorch 1.13 (Debian 12)
  ... torch_bench.py --list | --params                                            # the names; the train steps' parameter counts
Each JSON line carries the torch version and the CPU this process saw; compare.py runs one bench
per process, alternating Tessera and the peers.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

# torch.set_num_threads does not reach OpenBLAS's own pthread pool (PyTorch 2.6's mm/addmm): at
# --threads 1 it still ran 2 spinning threads, 5.6x slower on the EVA step. It reads this at load.
_threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv[:-1] else "2"
os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402

torch.set_num_threads(2)


def cpu_description():
    """The CPU in Tessera's CpuInfo.Host format: "AMD EPYC (family 26 model 2, avx512f, 2 cores)"."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "processor" and "cpu family" in info:
                    break
                info.setdefault(key, value.strip())
    except OSError:
        pass
    flags = info.get("flags", "").split()
    isa = "avx512f" if "avx512f" in flags else "avx2" if "avx2" in flags else "sse2" if "sse2" in flags else "scalar"
    where = f"family {info['cpu family']} model {info['model']}, " if "cpu family" in info and "model" in info else ""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{info.get('model name', 'unknown')} ({where}{isa}, {cores} cores)"


def timed(fn, min_repeats=5, min_seconds=1.0, warmup=2, warmup_seconds=0.0):
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    while time.perf_counter() - start < warmup_seconds:
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_repeats or (time.perf_counter() - start < min_seconds and len(times) < 1000):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def step(forward, backward, leaves):
    def run():
        out = forward()
        if backward:
            out.backward(torch.ones_like(out))
            for leaf in leaves:
                leaf.grad = None
    return run


def matmul(m, n, k, ta=False, tb=False):
    a = torch.randn(k, m).t() if ta else torch.randn(m, k)
    b = torch.randn(n, k).t() if tb else torch.randn(k, n)
    return lambda: torch.matmul(a, b)


def conv(channels, size, filters, kernel, stride, groups, backward):
    x = torch.randn(32, channels, size, size, requires_grad=backward)
    w = (torch.randn(filters, channels // groups, kernel, kernel) * 0.05).requires_grad_(backward)
    return step(lambda: F.conv2d(x, w, None, stride, kernel // 2, 1, groups), backward, [x, w])


def attention(batch, heads, tokens, backward):
    q, k, v = (torch.randn(batch, heads, tokens, 64, requires_grad=backward) for _ in range(3))
    scale = 64 ** -0.5

    def forward():  # fused SDPA in 2.x; PyTorch 1.13 has none, the explicit formula is what its users run
        if tm.HAS_SDPA:
            return F.scaled_dot_product_attention(q, k, v)
        return torch.softmax(q @ k.transpose(-2, -1) * scale, dim=-1) @ v
    return step(forward, backward, [q, k, v])


def bench_boxes(count, image_size):
    def u(k):
        return ((k + 1) * 0.6180339887498949) % 1.0
    rows = []
    for i in range(count):
        x1, y1 = u(4 * i) * image_size * 0.8, u(4 * i + 1) * image_size * 0.8
        w, h = 8 + u(4 * i + 2) * image_size * 0.4, 8 + u(4 * i + 3) * image_size * 0.4
        rows.append([i % 2, x1, y1, min(image_size, x1 + w), min(image_size, y1 + h)])
    return torch.tensor(rows, dtype=torch.float32)


def roialign(backward):
    features = torch.randn(2, 256, 50, 50, requires_grad=backward)
    boxes = bench_boxes(512, 200.0)
    return step(lambda: torchvision.ops.roi_align(features, boxes, (7, 7), 0.25, 2, True), backward, [features])


def gumbel_route():
    logits = torch.randn(2, requires_grad=True)
    units = [torch.randn(32, 64, 28, 28, requires_grad=True) for _ in range(2)]

    def forward():
        u = F.gumbel_softmax(logits, tau=1.0)
        return u[0] * units[0] + u[1] * units[1]
    return step(forward, True, [logits] + units)


def train_step(model, optimizer, batch=64, size=64):
    torch.manual_seed(0)
    images = torch.randn(batch, 3, size, size)
    labels = torch.tensor([i * 7 % 10 for i in range(batch)])
    return loss_step(model, optimizer, lambda: F.cross_entropy(model(images), labels), batch)


def loss_step(model, optimizer, loss_fn, items):
    """One optimiser step (zero_grad, loss, backward, step); the callable carries its model and items per step."""
    model.train()

    def run():
        optimizer.zero_grad()
        loss_fn().backward()
        optimizer.step()
    return with_model(run, model, items)


def with_model(run, model, items):
    run.model, run.items = model, items
    return run


def small_cnn():
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(128, 10))
    return train_step(model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))


def vit_tiny():
    model = torchvision.models.VisionTransformer(image_size=64, patch_size=8, num_layers=6, num_heads=3,
                                                 hidden_dim=192, mlp_dim=768, num_classes=10)
    return train_step(model, torch.optim.AdamW(model.parameters(), lr=1e-3))


def swin_lite():
    model = tm.SwinTransformer(patch=4, dim=48, depths=(2, 2, 4), heads=(2, 4, 8), ws=4, classes=10)
    return train_step(model, torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05), batch=32)


CAPTION_VOCABULARY = 53  # Tessera's CaptionVocabulary.Count (the parameter-count test catches a change)


def text_mlm():
    model = tm.TextMlm(CAPTION_VOCABULARY, context=32, width=64, depth=2, heads=4)
    tokens = tm.bench_tokens(32, 32, CAPTION_VOCABULARY)
    targets = tm.mlm_targets(tokens).reshape(-1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    return loss_step(model, optimizer, lambda: F.cross_entropy(model(tokens).reshape(-1, CAPTION_VOCABULARY), targets, ignore_index=-100), 32)


def eva_student():
    model = tm.EvaStudent(image=32, patch=4, width=48, depth=3, heads=3, target=32, drop_path=0.1)
    images, teacher = torch.randn(48, 3, 32, 32), torch.randn(48, 64, 32)
    mask = tm.fixed_mask(48, 64, 0.4)
    optimizer = torch.optim.AdamW(tm.decay_groups(model, 0.05), lr=1.5e-3, betas=(0.9, 0.98), eps=1e-8)
    return loss_step(model, optimizer, lambda: model.loss(images, teacher, mask), 48)


def hvp_mtl():
    model, step = tm.hvp_step_factory()
    model.train()
    return with_model(step, model, tm.HVP["batch"])


SYSTEM_TRAIN_STEPS = ("train_step_swin_lite_p4_d48_w4_32x3x64x64", "train_step_text_mlm_w64_L2_32x32",
                      "train_step_eva_student_w48_L3_48x3x32x32", "train_step_hvp_mtl_w48_L3_32x3x32x32")
TRAIN_WARMUP_SECONDS = 2.0

TRAIN_STEPS = {
    "train_step_smallcnn_64x3x64x64": small_cnn,
    "train_step_vit_tiny_p8_d192_L6_64x3x64x64": vit_tiny,
    "train_step_swin_lite_p4_d48_w4_32x3x64x64": swin_lite,
    "train_step_text_mlm_w64_L2_32x32": text_mlm,
    "train_step_eva_student_w48_L3_48x3x32x32": eva_student,
    "train_step_hvp_mtl_w48_L3_32x3x32x32": hvp_mtl,
}


def cases():
    """name -> (flops, factory returning the timed callable)."""
    out = {}
    for n in (256, 512, 1024, 2048):
        out[f"sgemm_{n}"] = (2.0 * n ** 3, lambda n=n: matmul(n, n, n))
    out["sgemm_4096x192x768"] = (2.0 * 4096 * 192 * 768, lambda: matmul(4096, 768, 192))
    out["sgemm_4096x768x192_nt"] = (2.0 * 4096 * 192 * 768, lambda: matmul(4096, 192, 768, tb=True))
    out["sgemm_192x4096x768_tn"] = (2.0 * 4096 * 192 * 768, lambda: matmul(192, 768, 4096, ta=True))
    layers = [("32x64x56_64k3s1", 64, 56, 64, 3, 1, 1), ("32x128x28_128k3s1", 128, 28, 128, 3, 1, 1),
              ("32x64x56_256k1s1", 64, 56, 256, 1, 1, 1), ("32x3x112_64k7s2", 3, 112, 64, 7, 2, 1),
              ("32x64x56_64dw3s1", 64, 56, 64, 3, 1, 64)]
    for name, c, s, f, k, st, g in layers:
        o = (s + 2 * (k // 2) - k) // st + 1
        flops = 2.0 * 32 * f * o * o * (c // g) * k * k
        out[f"conv_fwd_{name}"] = (flops, lambda a=(c, s, f, k, st, g): conv(*a, False))
        out[f"conv_fwdbwd_{name}"] = (3 * flops, lambda a=(c, s, f, k, st, g): conv(*a, True))
    for b, h, t in ((8, 4, 256), (4, 8, 1024)):
        flops = 4.0 * b * h * t * t * 64
        out[f"attn_fwd_b{b}h{h}t{t}d64"] = (flops, lambda a=(b, h, t): attention(*a, False))
        out[f"attn_fwdbwd_b{b}h{h}t{t}d64"] = (3 * flops, lambda a=(b, h, t): attention(*a, True))
    out["roialign_fwd_512roi_256c_7x7"] = (0, lambda: roialign(False))
    out["roialign_fwdbwd_512roi_256c_7x7"] = (0, lambda: roialign(True))
    out["gumbel_route_combine_N2_32x64x28x28_fwdbwd"] = (0, gumbel_route)
    for name, factory in TRAIN_STEPS.items():
        out[name] = (0, factory)
    return out


def run(name, min_seconds=1.0):
    flops, factory = cases()[name]
    torch.manual_seed(0)
    fn = factory()
    # The systems' train steps warm up 2 s as on Tessera's side (TrainStepModels.WarmupSeconds: its JIT needs it).
    ms = timed(fn, min_seconds=min_seconds, warmup_seconds=TRAIN_WARMUP_SECONDS if name in SYSTEM_TRAIN_STEPS else 0.0)
    result = {"bench": name, "ms": round(ms, 4), "gflops": round(flops / (ms * 1e6), 2) if flops else 0}
    if hasattr(fn, "items"):
        result["images_per_s"] = round(fn.items / (ms / 1000), 2)
        result["params"] = tm.parameter_count(fn.model)
    # Peak resident memory of this process so far (compare.py runs one bench per process).
    result["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["torch"] = torch.__version__
    result["threads"] = torch.get_num_threads()
    result["cpu"] = cpu_description()
    return result


def main():
    parser = argparse.ArgumentParser(description="The PyTorch side of `tessera bench` (same names and shapes).")
    parser.add_argument("names", nargs="*", help="benchmark names or prefixes (all when omitted)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line (compare.py reads these)")
    parser.add_argument("--list", action="store_true", help="print the benchmark names and exit")
    parser.add_argument("--params", action="store_true", help="print the train steps' parameter counts and exit")
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum timed seconds per benchmark (default 1)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2, as the spec asks)")
    args = parser.parse_args()
    if args.threads < 1:
        parser.error(f"--threads expected at least 1, found {args.threads}")
    torch.set_num_threads(args.threads)
    unknown = [a for a in args.names if not any(n.startswith(a) for n in cases())]
    if unknown:
        parser.error(f"no benchmark named or starting with {', '.join(unknown)}; run with --list to see them")
    names = [n for n in cases() if not args.names or any(n.startswith(a) for a in args.names)]
    if args.list:
        print("\n".join(names))
        return
    if args.params:  # TrainStepModelTests pins Tessera's counts to these
        for name in names:
            if name in TRAIN_STEPS:
                torch.manual_seed(0)
                print(f"{name} {tm.parameter_count(TRAIN_STEPS[name]().model)}")
        return
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, CPU {cpu_description()}", file=sys.stderr)
    for name in names:
        r = run(name, args.seconds)
        print(json.dumps(r) if args.json else f"{name:45s} {r['ms']:10.3f} ms {r['gflops']:8.1f} GFLOP/s", flush=True)


if __name__ == "__main__":
    main()
