"""Convolution, transposed convolution, pooling and interpolation (2-d, NCHW)."""
import torch
import torch.nn.functional as F

from common import Family, seeded


def pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def build():
    fam = Family("conv")
    g = seeded(7)

    def rn(*shape):
        return torch.randn(tuple(shape), generator=g)

    # ---- conv2d: (name, x shape, w shape, bias?, stride, padding, dilation, groups, noncontig) ----
    convs = [
        ("basic", (2, 3, 7, 6), (4, 3, 3, 3), True, 1, 0, 1, 1, []),
        ("stride2_pad1", (2, 3, 8, 7), (5, 3, 3, 3), True, 2, 1, 1, 1, []),
        ("dilation2_asym", (1, 2, 9, 8), (3, 2, 3, 2), False, (1, 2), (2, 1), 2, 1, []),
        ("groups2", (2, 4, 6, 6), (6, 2, 3, 3), True, 1, 1, 1, 2, []),
        ("groups3_stride_dil", (2, 6, 9, 8), (3, 2, 3, 3), True, (2, 1), (1, 2), (1, 2), 3, []),
        ("depthwise", (2, 4, 7, 7), (4, 1, 3, 3), True, 1, 1, 1, 4, []),
        ("depthwise_mult2_stride2", (1, 3, 5, 6), (6, 1, 3, 3), False, 2, 1, 1, 3, []),
        ("depthwise_dilated_wide", (2, 5, 9, 21), (5, 1, 3, 3), True, (1, 2), (2, 1), (2, 1), 5, []),
        ("depthwise_5x5_nopad", (1, 4, 8, 19), (4, 1, 5, 5), False, 1, 0, 1, 4, []),
        ("pointwise", (2, 5, 4, 3), (3, 5, 1, 1), True, 1, 0, 1, 1, []),
        ("pointwise_stride2", (1, 4, 5, 5), (2, 4, 1, 1), False, 2, 0, 1, 1, []),
        ("k7_stride2_pad3", (1, 3, 16, 15), (4, 3, 7, 7), True, 2, 3, 1, 1, []),
        ("batch1_height1", (1, 3, 1, 5), (2, 3, 1, 3), True, 1, (0, 1), 1, 1, []),
        ("spatial1x1", (2, 3, 1, 1), (4, 3, 1, 1), True, 1, 0, 1, 1, []),
        ("spatial1x1_padded", (1, 2, 1, 1), (3, 2, 3, 3), True, 1, 1, 1, 1, []),
        ("stride_gt_kernel", (2, 2, 8, 7), (3, 2, 2, 2), True, 3, 0, 1, 1, []),
        ("wide_patch", (1, 32, 5, 5), (4, 32, 3, 3), True, 1, 1, 1, 1, []),
        ("noncontig", (2, 3, 6, 5), (4, 3, 3, 2), True, 1, (1, 0), 1, 1, ["x", "w"]),
        ("noncontig_depthwise", (2, 3, 5, 6), (3, 1, 3, 3), False, 2, 1, 1, 3, ["x"]),
    ]
    for name, xs, ws, has_bias, s, p, d, groups, nc in convs:
        inputs = {"x": rn(*xs), "w": rn(*ws) * 0.5}
        if has_bias:
            inputs["b"] = rn(ws[0])
        args = {"stride": pair(s), "padding": pair(p), "dilation": pair(d), "groups": groups, "noncontig": nc}
        fam.case(f"conv2d_{name}", "conv2d", args, inputs,
                 lambda x, w, b=None, s=s, p=p, d=d, groups=groups: F.conv2d(x, w, b, s, p, d, groups))

    # ---- conv_transpose2d: (name, x, w [C_in, O/groups, kH, kW], bias?, stride, padding, output_padding, groups, dilation, noncontig) ----
    transposes = [
        ("basic", (2, 3, 4, 5), (3, 2, 3, 3), True, 1, 0, 0, 1, 1, []),
        ("stride2_pad1_outpad1", (1, 4, 3, 4), (4, 3, 3, 3), True, 2, 1, 1, 1, 1, []),
        ("groups2_outpad_h", (2, 4, 3, 3), (4, 3, 3, 2), False, (2, 1), (1, 0), (1, 0), 2, 1, []),
        ("dilation2_stride3_outpad", (1, 2, 3, 3), (2, 3, 2, 3), True, 3, 1, (2, 1), 1, 2, []),
        ("outpad_below_dilation", (1, 2, 4, 4), (2, 2, 3, 3), True, 1, 1, 1, 1, 2, []),
        ("depthwise_stride2", (1, 3, 4, 4), (3, 1, 3, 3), True, 2, 1, 1, 3, 1, []),
        ("pointwise", (2, 3, 3, 2), (3, 4, 1, 1), True, 1, 0, 0, 1, 1, []),
        ("k4_stride2_pad1", (2, 2, 3, 3), (2, 2, 4, 4), False, 2, 1, 0, 1, 1, []),
        ("spatial1x1", (1, 2, 1, 1), (2, 3, 3, 3), True, 2, 0, 0, 1, 1, []),
        ("pointwise_dilation2_outpad1", (1, 2, 3, 3), (2, 2, 1, 1), True, 1, 0, 1, 1, 2, []),
        ("stride_gt_kernel", (1, 2, 3, 4), (2, 2, 2, 2), True, 3, 0, 0, 1, 1, []),
        ("noncontig", (2, 3, 4, 3), (3, 2, 3, 3), True, 2, 1, 1, 1, 1, ["x", "w"]),
    ]
    for name, xs, ws, has_bias, s, p, op_, groups, d, nc in transposes:
        inputs = {"x": rn(*xs), "w": rn(*ws) * 0.5}
        if has_bias:
            inputs["b"] = rn(ws[1] * groups)
        args = {"stride": pair(s), "padding": pair(p), "output_padding": pair(op_), "groups": groups, "dilation": pair(d), "noncontig": nc}
        fam.case(f"conv_transpose2d_{name}", "conv_transpose2d", args, inputs,
                 lambda x, w, b=None, s=s, p=p, op_=op_, groups=groups, d=d: F.conv_transpose2d(x, w, b, s, p, op_, groups, d))

    # ---- max_pool2d: (name, x, kernel, stride, padding, dilation, ceil_mode, noncontig) ----
    maxpools = [
        ("k2", (2, 3, 6, 6), 2, None, 0, 1, False, []),
        ("k3_s2_p1", (1, 2, 7, 8), 3, 2, 1, 1, False, []),
        ("k3_s2_ceil", (1, 2, 8, 8), 3, 2, 0, 1, True, []),
        ("k3_s2_p1_ceil", (1, 2, 6, 7), 3, 2, 1, 1, True, []),
        ("k2_ceil_odd", (2, 2, 5, 7), 2, 2, 0, 1, True, []),
        ("dilation2", (1, 2, 7, 7), 3, 1, 1, 2, False, []),
        ("rect", (2, 1, 5, 6), (2, 3), (1, 2), (1, 1), 1, False, []),
        ("height1", (1, 2, 1, 5), (1, 2), None, 0, 1, False, []),
        ("overlap", (1, 1, 5, 5), 3, 1, 0, 1, False, []),
        ("noncontig", (2, 2, 6, 5), 2, 2, 1, 1, True, ["x"]),
    ]
    for name, xs, k, s, p, d, ceil, nc in maxpools:
        args = {"kernel": pair(k), "stride": pair(s if s is not None else k), "padding": pair(p), "dilation": pair(d),
                "ceil_mode": ceil, "noncontig": nc}
        fam.case(f"max_pool2d_{name}", "max_pool2d", args, {"x": rn(*xs)},
                 lambda x, k=k, s=s, p=p, d=d, ceil=ceil: F.max_pool2d(x, k, s, p, d, ceil_mode=ceil))
    ties2 = torch.randint(0, 3, (2, 2, 7, 9), generator=g).float()
    ties2[0, 1, 2, 3] = float("nan")
    ties2[1, 0, 4, 4] = float("nan")
    fam.case("max_pool2d_indices_2x2_ties_nan", "max_pool2d_indices", {"kernel": [2, 2], "stride": [2, 2], "padding": [0, 0], "dilation": [1, 1], "ceil_mode": False},
             {"x": ties2}, lambda x: tuple(F.max_pool2d(x, 2, 2, return_indices=True)), grad_inputs=[])
    ties = torch.randint(0, 3, (1, 2, 6, 6), generator=g).float()
    fam.case("max_pool2d_indices_ties", "max_pool2d_indices", {"kernel": [3, 3], "stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "ceil_mode": False},
             {"x": ties}, lambda x: tuple(F.max_pool2d(x, 3, 1, 1, return_indices=True)))
    for name, xs, k, s, p, d, ceil in [("k3_s2_p1", (2, 2, 7, 6), 3, 2, 1, 1, False), ("k2_ceil", (1, 3, 5, 5), 2, 2, 0, 1, True)]:
        args = {"kernel": pair(k), "stride": pair(s), "padding": pair(p), "dilation": pair(d), "ceil_mode": ceil}
        fam.case(f"max_pool2d_indices_{name}", "max_pool2d_indices", args, {"x": rn(*xs)},
                 lambda x, k=k, s=s, p=p, d=d, ceil=ceil: tuple(F.max_pool2d(x, k, s, p, d, ceil_mode=ceil, return_indices=True)))

    # ---- avg_pool2d: (name, x, kernel, stride, padding, ceil_mode, count_include_pad, noncontig) ----
    avgpools = [
        ("k2", (2, 3, 6, 6), 2, None, 0, False, True, []),
        ("k3_s2_p1_incl", (1, 2, 7, 8), 3, 2, 1, False, True, []),
        ("k3_s2_p1_excl", (1, 2, 7, 8), 3, 2, 1, False, False, []),
        ("k3_s2_ceil", (1, 2, 8, 8), 3, 2, 0, True, True, []),
        ("k3_s2_p1_ceil_incl", (1, 2, 6, 7), 3, 2, 1, True, True, []),
        ("k3_s2_p1_ceil_excl", (1, 2, 6, 7), 3, 2, 1, True, False, []),
        ("rect", (2, 1, 5, 6), (2, 3), (1, 2), (1, 1), False, True, []),
        ("width1", (1, 2, 4, 1), (2, 1), None, 0, False, True, []),
        ("noncontig", (2, 2, 6, 5), 2, 2, 1, True, False, ["x"]),
    ]
    for name, xs, k, s, p, ceil, incl, nc in avgpools:
        args = {"kernel": pair(k), "stride": pair(s if s is not None else k), "padding": pair(p), "ceil_mode": ceil,
                "count_include_pad": incl, "noncontig": nc}
        fam.case(f"avg_pool2d_{name}", "avg_pool2d", args, {"x": rn(*xs)},
                 lambda x, k=k, s=s, p=p, ceil=ceil, incl=incl: F.avg_pool2d(x, k, s, p, ceil, incl))

    # ---- adaptive_avg_pool2d ----
    adaptive = [
        ("7x9_to_3x4", (2, 3, 7, 9), (3, 4), []),
        ("5x5_to_2x3", (1, 2, 5, 5), (2, 3), []),
        ("6x6_to_4x4", (1, 2, 6, 6), (4, 4), []),
        ("3x3_to_5x5", (1, 1, 3, 3), (5, 5), []),
        ("1x1_to_2x2", (1, 2, 1, 1), (2, 2), []),
        ("identity", (1, 2, 3, 4), (3, 4), []),
        ("noncontig", (2, 2, 7, 5), (3, 2), ["x"]),
    ]
    for name, xs, size, nc in adaptive:
        fam.case(f"adaptive_avg_pool2d_{name}", "adaptive_avg_pool2d", {"output_size": list(size), "noncontig": nc}, {"x": rn(*xs)},
                 lambda x, size=size: F.adaptive_avg_pool2d(x, size))
    fam.case("global_avg_pool2d_0", "global_avg_pool2d", {}, {"x": rn(2, 3, 5, 7)}, lambda x: F.adaptive_avg_pool2d(x, 1))

    # ---- interpolate: (name, x, size, scale_factor, noncontig) run for nearest and bilinear (both align_corners) ----
    resizes = [
        ("up_size", (1, 2, 4, 5), (7, 9), None, []),
        ("down_size", (2, 1, 8, 9), (5, 4), None, []),
        ("up_scale2", (1, 2, 3, 4), None, (2.0, 2.0), []),
        ("down_scale_half", (1, 2, 8, 6), None, (0.5, 0.5), []),
        ("scale_mixed", (1, 1, 5, 6), None, (1.7, 0.6), []),
        ("out1", (1, 2, 4, 5), (1, 1), None, []),
        ("in1", (1, 2, 1, 1), (3, 2), None, []),
        ("mixed_dirs", (1, 2, 6, 3), (4, 7), None, []),
        ("noncontig", (2, 2, 5, 4), (7, 6), None, ["x"]),
    ]
    for name, xs, size, scale, nc in resizes:
        x = rn(*xs)
        base = {"size": list(size) if size else None, "scale_factor": list(scale) if scale else None, "noncontig": nc}
        fam.case(f"interpolate_nearest_{name}", "interpolate", dict(base, mode="nearest", align_corners=None), {"x": x},
                 lambda x, size=size, scale=scale: F.interpolate(x, size=size, scale_factor=scale, mode="nearest"))
        for corners in (False, True):
            fam.case(f"interpolate_bilinear_{name}_ac{int(corners)}", "interpolate", dict(base, mode="bilinear", align_corners=corners), {"x": x},
                     lambda x, size=size, scale=scale, corners=corners: F.interpolate(x, size=size, scale_factor=scale, mode="bilinear", align_corners=corners))
    return fam
