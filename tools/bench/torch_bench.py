#!/usr/bin/python3
"""The PyTorch side of `tessera bench`: the same names, shapes and flop counts.

Run under Debian's PyTorch with OpenBLAS told its CPU type (see ../../../shared/specs/performance.md):
  OPENBLAS_CORETYPE=Cooperlake /usr/bin/python3 tools/bench/torch_bench.py [names...] [--json]
compare.py imports this module to alternate the two sides in one run.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import torchvision

torch.set_num_threads(2)


def timed(fn, min_repeats=5, min_seconds=1.0, warmup=2):
    for _ in range(warmup):
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

    def forward():  # PyTorch 1.13 has no fused CPU attention: the explicit formula is what users run
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


def train_step(model, optimizer):
    torch.manual_seed(0)
    images = torch.randn(64, 3, 64, 64)
    labels = torch.tensor([i * 7 % 10 for i in range(64)])
    model.train()

    def run():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
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
    out["train_step_smallcnn_64x3x64x64"] = (0, small_cnn)
    out["train_step_vit_tiny_p8_d192_L6_64x3x64x64"] = (0, vit_tiny)
    return out


def run(name, min_seconds=1.0):
    flops, factory = cases()[name]
    torch.manual_seed(0)
    ms = timed(factory(), min_seconds=min_seconds)
    result = {"bench": name, "ms": round(ms, 4), "gflops": round(flops / (ms * 1e6), 2) if flops else 0}
    if name.startswith("train_step_"):
        result["images_per_s"] = round(64 / (ms / 1000), 2)
    return result


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    names = [n for n in cases() if not args or any(n == a or n.startswith(a) for a in args)]
    for name in names:
        r = run(name)
        print(json.dumps(r) if "--json" in sys.argv else f"{name:45s} {r['ms']:10.3f} ms {r['gflops']:8.1f} GFLOP/s", flush=True)


if __name__ == "__main__":
    main()
