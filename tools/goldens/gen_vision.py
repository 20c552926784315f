"""Attention, gumbel softmax, routed combine, roi_align and box ops.

torch 1.13 has no F.scaled_dot_product_attention, so the reference is the explicit formula
softmax(q @ k^T * scale + bias) @ v (torch 2.x semantics: a bool mask keeps where True, causal is
top-left aligned). Goldens avoid fully masked rows (the explicit formula gives NaN there; Tessera
gives zeros, tested separately). gumbel_softmax is fed explicit noise so it is deterministic.
"""
import math

import torch
import torchvision
from torchvision.models.detection._utils import BoxCoder

from common import Family, seeded


def sdpa(q, k, v, mask=None, causal=False, scale=None):
    s = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    scores = q @ k.transpose(-2, -1) * s
    if causal:
        keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        scores = scores.masked_fill(~keep, float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    return torch.softmax(scores, -1) @ v


def gumbel(logits, noise, tau, hard, dim):
    """torch.nn.functional.gumbel_softmax with the noise given (same code path after sampling)."""
    y = ((logits + noise) / tau).softmax(dim)
    if not hard:
        return y
    index = y.max(dim, keepdim=True)[1]
    y_hard = torch.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y.detach() + y


def routed(u, xs):
    if u.dim() == 1:
        return sum(u[k] * x for k, x in enumerate(xs))
    return sum(u[:, k].reshape((-1,) + (1,) * (xs[k].dim() - 1)) * x for k, x in enumerate(xs))


def build():
    fam = Family("vision")
    g = seeded(7)

    def rn(*shape):
        return torch.randn(tuple(shape), generator=g)

    # ---- scaled dot-product attention ----
    def attn(name, q, k, v, mask=None, causal=False, scale=None, noncontig=None, grad_inputs=None):
        args = {"is_causal": causal, "scale": scale}
        if noncontig:
            args["noncontig"] = noncontig
        inputs = {"q": q, "k": k, "v": v}
        if mask is not None:
            inputs["mask"] = mask
        fam.case(name, "sdpa", args, inputs, lambda q, k, v, mask=None: sdpa(q, k, v, mask, causal, scale), grad_inputs=grad_inputs)

    attn("sdpa_basic", rn(2, 3, 5, 8), rn(2, 3, 7, 8), rn(2, 3, 7, 6))
    attn("sdpa_lq1", rn(2, 1, 8), rn(2, 9, 8), rn(2, 9, 8))
    attn("sdpa_lk1", rn(2, 4, 3), rn(2, 1, 3), rn(2, 1, 5))
    attn("sdpa_d5", rn(3, 4, 5), rn(3, 4, 5), rn(3, 4, 3))
    attn("sdpa_rank2", rn(4, 3), rn(6, 3), rn(6, 2))
    attn("sdpa_scale", rn(2, 5, 4), rn(2, 6, 4), rn(2, 6, 4), scale=0.3)
    attn("sdpa_long", rn(1, 2, 40, 8), rn(1, 2, 37, 8), rn(1, 2, 37, 5))
    attn("sdpa_causal", rn(2, 2, 6, 4), rn(2, 2, 6, 4), rn(2, 2, 6, 4), causal=True)
    attn("sdpa_causal_long", rn(1, 40, 6), rn(1, 40, 6), rn(1, 40, 3), causal=True)
    attn("sdpa_causal_lq_lt_lk", rn(1, 3, 5, 4), rn(1, 3, 7, 4), rn(1, 3, 7, 4), causal=True)
    attn("sdpa_causal_lq_gt_lk", rn(2, 6, 4), rn(2, 3, 4), rn(2, 3, 2), causal=True)
    keep = rn(2, 1, 5, 7) > 0
    keep[..., 0] = True  # no fully masked row
    attn("sdpa_bool_mask", rn(2, 3, 5, 8), rn(2, 3, 7, 8), rn(2, 3, 7, 6), mask=keep)
    pad = torch.tensor([True, True, True, False, True, False])
    attn("sdpa_bool_keypad", rn(2, 2, 4, 5), rn(2, 2, 6, 5), rn(2, 2, 6, 3), mask=pad)
    attn("sdpa_bias_full", rn(2, 3, 4, 8), rn(2, 3, 6, 8), rn(2, 3, 6, 4), mask=rn(2, 3, 4, 6))
    attn("sdpa_bias_heads", rn(2, 3, 4, 5), rn(2, 3, 6, 5), rn(2, 3, 6, 4), mask=rn(3, 4, 6))
    attn("sdpa_bias_row", rn(2, 5, 4), rn(2, 7, 4), rn(2, 7, 4), mask=rn(1, 7))
    attn("sdpa_bias_nograd", rn(2, 5, 4), rn(2, 7, 4), rn(2, 7, 4), mask=rn(2, 5, 7), grad_inputs=["q", "k", "v"])
    bias_inf = rn(3, 4, 6)
    bias_inf[:, 1:, 2] = float("-inf")
    attn("sdpa_bias_inf", rn(3, 4, 5), rn(3, 6, 5), rn(3, 6, 5), mask=bias_inf)
    attn("sdpa_noncontig_q", rn(2, 3, 6, 8), rn(2, 3, 6, 8), rn(2, 3, 6, 8), noncontig=["q"])
    attn("sdpa_noncontig_all", rn(2, 5, 4), rn(2, 7, 4), rn(2, 7, 3), mask=rn(5, 7), noncontig=["q", "k", "v", "mask"])

    # ---- gumbel softmax with explicit noise ----
    def gumbel_noise(*shape):
        u = torch.rand(tuple(shape), generator=g).clamp(1e-6, 1 - 1e-6)
        return -torch.log(-torch.log(u))

    for shape, dim in [((4, 6), -1), ((4, 6), 0), ((2, 5, 3), 1), ((7,), 0), ((3, 1), 1)]:
        for tau in (0.5, 1.0, 5.0):
            for hard in (False, True):
                tag = f"gumbel_{'x'.join(map(str, shape))}_d{dim}_t{tau}_{'hard' if hard else 'soft'}"
                fam.case(tag, "gumbel", {"tau": tau, "hard": hard, "dim": dim}, {"logits": rn(*shape) * 2, "noise": gumbel_noise(*shape)},
                         lambda logits, noise, tau=tau, hard=hard, dim=dim: gumbel(logits, noise, tau, hard, dim), grad_inputs=["logits"])
    fam.case("gumbel_noncontig", "gumbel", {"tau": 1.0, "hard": True, "dim": -1, "noncontig": ["logits"]},
             {"logits": rn(5, 4), "noise": gumbel_noise(5, 4)}, lambda logits, noise: gumbel(logits, noise, 1.0, True, -1), grad_inputs=["logits"])

    # ---- routed combine ----
    def combine_list(name, u, xs, noncontig=None):
        inputs = {"u": u, **{f"x{k}": x for k, x in enumerate(xs)}}
        args = {"noncontig": noncontig} if noncontig else {}
        fam.case(name, "routed_combine", args, inputs, lambda u, **x: routed(u, [x[f"x{k}"] for k in range(len(xs))]))

    combine_list("combine_rows", rn(4, 3), [rn(4, 5) for _ in range(3)])
    combine_list("combine_rows_3d", rn(3, 2), [rn(3, 2, 4) for _ in range(2)])
    combine_list("combine_shared", rn(3), [rn(2, 5) for _ in range(3)])
    combine_list("combine_single", rn(5, 1), [rn(5, 3)])
    combine_list("combine_noncontig", rn(3, 4), [rn(3, 6) for _ in range(4)], noncontig=["u", "x1"])
    combine_list("combine_wide", rn(2, 2), [rn(2, 4100) for _ in range(2)])
    fam.case("combine_stacked", "routed_combine_stacked", {}, {"u": rn(4, 3), "x": rn(3, 4, 5)},
             lambda u, x: routed(u, list(x.unbind(0))))
    fam.case("combine_stacked_shared", "routed_combine_stacked", {}, {"u": rn(2), "x": rn(2, 3, 2)},
             lambda u, x: routed(u, list(x.unbind(0))))

    # ---- roi_align ----
    def roi(name, x, boxes, size, scale, ratio, aligned, noncontig=None):
        args = {"output_size": list(size), "spatial_scale": scale, "sampling_ratio": ratio, "aligned": aligned}
        if noncontig:
            args["noncontig"] = noncontig
        fam.case(name, "roi_align", args, {"input": x, "boxes": boxes},
                 lambda input, boxes: torchvision.ops.roi_align(input, boxes, size, scale, ratio, aligned), grad_inputs=["input"])

    feat = rn(2, 3, 10, 12)
    inside = torch.tensor([[0, 1.0, 1.5, 6.2, 7.0], [1, 2.3, 0.5, 11.0, 9.1], [0, 4.0, 3.0, 8.5, 5.5]])
    borders = torch.tensor([[0, -3.0, -2.0, 5.0, 4.0], [1, 8.0, 6.0, 14.5, 12.7], [1, -1.5, 7.0, 13.0, 11.5], [0, 6.0, 5.0, 3.0, 2.0]])
    outside = torch.tensor([[0, 20.0, 1.0, 30.0, 6.0], [1, -9.0, -8.0, -3.0, -2.5], [0, 1.0, 15.0, 4.0, 19.0]])
    tiny = torch.tensor([[0, 3.2, 4.1, 3.5, 4.3], [1, 7.0, 2.0, 7.0, 2.0], [1, 0.1, 9.6, 0.4, 9.9]])
    for aligned in (False, True):
        tag = "aligned" if aligned else "legacy"
        for ratio in (0, 2):
            roi(f"roi_inside_{tag}_r{ratio}", feat, inside, (3, 3), 1.0, ratio, aligned)
            roi(f"roi_borders_{tag}_r{ratio}", feat, borders, (2, 4), 1.0, ratio, aligned)
            roi(f"roi_tiny_{tag}_r{ratio}", feat, tiny, (2, 2), 1.0, ratio, aligned)
        roi(f"roi_outside_{tag}", feat, outside, (2, 2), 1.0, 2, aligned)
        roi(f"roi_scale_{tag}", feat, inside * torch.tensor([1, 4, 4, 4, 4.0]), (3, 2), 0.25, 0, aligned)
        roi(f"roi_scale_borders_{tag}", feat, borders * torch.tensor([1, 4, 4, 4, 4.0]), (2, 2), 0.25, 2, aligned)
    roi("roi_size1", rn(1, 2, 5, 5), torch.tensor([[0, 0.5, 0.5, 3.5, 4.0]]), (1, 1), 1.0, 0, False)
    roi("roi_noncontig", feat, inside, (3, 3), 1.0, 2, True, noncontig=["input"])
    roi("roi_empty", feat, torch.zeros(0, 5), (2, 2), 1.0, 2, False)
    fam.case("roi_list", "roi_align_list", {"output_size": [2, 3], "spatial_scale": 0.5, "sampling_ratio": 0, "aligned": True},
             {"input": feat, "boxes0": inside[:2, 1:] * 2, "boxes1": borders[:, 1:] * 2},
             lambda input, boxes0, boxes1: torchvision.ops.roi_align(input, [boxes0, boxes1], (2, 3), 0.5, 0, True), grad_inputs=["input"])

    # ---- boxes (no gradients) ----
    def boxes(n, spread=10.0, size=5.0):
        xy = torch.rand(n, 2, generator=g) * spread
        wh = torch.rand(n, 2, generator=g) * size + 0.5
        return torch.cat([xy, xy + wh], 1)

    def plain(name, op, args, inputs, fn):
        fam.case(name, op, args, inputs, fn, grad_inputs=[])

    plain("iou_random", "box_iou", {}, {"a": boxes(5), "b": boxes(6)}, lambda a, b: torchvision.ops.box_iou(a, b))
    crafted = torch.tensor([[0, 0, 2, 2.0], [0, 0, 2, 2.0], [5, 5, 6, 7.0], [2, 0, 4, 2.0], [0.5, 0.5, 1.5, 1.5]])
    plain("iou_crafted", "box_iou", {}, {"a": crafted, "b": crafted}, lambda a, b: torchvision.ops.box_iou(a, b))
    plain("iou_empty", "box_iou", {}, {"a": torch.zeros(0, 4), "b": boxes(3)}, lambda a, b: torchvision.ops.box_iou(a, b))
    for i, w in enumerate([(10.0, 10.0, 5.0, 5.0), (1.0, 1.0, 1.0, 1.0)]):
        coder = BoxCoder(w)
        plain(f"encode_{i}", "box_encode", {"weights": list(w)}, {"reference": boxes(7), "proposals": boxes(7)},
              lambda reference, proposals, coder=coder: coder.encode_single(reference, proposals))
        codes = rn(7, 8) * 0.5
        codes[0, 2] = 30.0  # dw beyond bbox_xform_clip
        codes[1, 7] = 40.0
        plain(f"decode_{i}", "box_decode", {"weights": list(w)}, {"codes": codes, "boxes": boxes(7)},
              lambda codes, boxes, coder=coder: coder.decode_single(codes, boxes))
        plain(f"decode_1class_{i}", "box_decode", {"weights": list(w)}, {"codes": rn(5, 4) * 0.5, "boxes": boxes(5)},
              lambda codes, boxes, coder=coder: coder.decode_single(codes, boxes))

    def distinct_scores(n):
        return torch.randperm(n, generator=g).float() / n + 0.01

    clustered = boxes(40, spread=8.0, size=6.0)
    scores = distinct_scores(40)
    for t in (0.3, 0.5, 0.7):
        plain(f"nms_random_t{t}", "nms", {"iou_threshold": t}, {"boxes": clustered, "scores": scores},
              lambda boxes, scores, t=t: torchvision.ops.nms(boxes, scores, t))
    same = torch.tensor([[1, 1, 4, 4.0]] * 3 + [[10, 10, 12, 12.0], [20, 0, 21, 1.0]])
    plain("nms_identical", "nms", {"iou_threshold": 0.5}, {"boxes": same, "scores": torch.tensor([0.2, 0.9, 0.5, 0.3, 0.7])},
          lambda boxes, scores: torchvision.ops.nms(boxes, scores, 0.5))
    disjoint = torch.tensor([[0, 0, 1, 1.0], [2, 2, 3, 3.0], [4, 0, 5, 1.0], [0, 4, 1, 5.0]])
    plain("nms_disjoint", "nms", {"iou_threshold": 0.1}, {"boxes": disjoint, "scores": torch.tensor([0.1, 0.4, 0.3, 0.2])},
          lambda boxes, scores: torchvision.ops.nms(boxes, scores, 0.1))
    plain("nms_empty", "nms", {"iou_threshold": 0.5}, {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0)},
          lambda boxes, scores: torchvision.ops.nms(boxes, scores, 0.5))
    categories = torch.randint(0, 3, (40,), generator=g)
    for t in (0.4, 0.6):
        plain(f"batched_nms_t{t}", "batched_nms", {"iou_threshold": t}, {"boxes": clustered, "scores": scores, "idxs": categories},
              lambda boxes, scores, idxs, t=t: torchvision.ops.batched_nms(boxes, scores, idxs, t))
    plain("batched_nms_empty", "batched_nms", {"iou_threshold": 0.5},
          {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "idxs": torch.zeros(0, dtype=torch.int64)},
          lambda boxes, scores, idxs: torchvision.ops.batched_nms(boxes, scores, idxs, 0.5))
    return fam
