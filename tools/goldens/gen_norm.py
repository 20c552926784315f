"""Normalisation, softmax and loss ops: batch/layer/group norm, softmax, cross entropy and friends.

Batch-norm cases that update running statistics return (y, running_mean, running_var) so the
updated statistics are checked too. Dropout and drop_path have no goldens (random masks); they
are tested by their statistics in DropoutTests.cs.
"""
import torch
import torch.nn.functional as F

from common import Family, seeded


def build():
    fam = Family("norm")
    g = seeded(7)

    def rn(*shape):
        return torch.randn(tuple(shape), generator=g)

    def pos(*shape):
        return torch.rand(tuple(shape), generator=g) + 0.5

    def idx(high, *shape):
        return torch.randint(0, high, tuple(shape), generator=g)

    # ---- batch norm ----
    def bn_case(name, shape, training, affine=True, stats=True, momentum=0.1, eps=1e-5, noncontig=False, scale=1.0):
        c = shape[1]
        inputs = {"x": rn(*shape) * scale + 0.3}
        if stats:
            inputs["rm"] = rn(c) * 0.5
            inputs["rv"] = pos(c)
        if affine:
            inputs["w"] = rn(c)
            inputs["b"] = rn(c)
        args = {"training": training, "momentum": momentum, "eps": eps}
        if noncontig:
            args["noncontig"] = ["x"]

        def fn(x, rm=None, rv=None, w=None, b=None):
            y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=momentum, eps=eps)
            return (y, rm.clone(), rv.clone()) if stats and training else y

        fam.case(name, "batch_norm", args, inputs, fn, grad_inputs=[k for k in ("x", "w", "b") if k in inputs])

    bn_case("bn_train_2d_affine", (6, 4), True)
    bn_case("bn_train_2d_plain", (5, 3), True, affine=False)
    bn_case("bn_train_4d_affine", (3, 4, 5, 2), True, momentum=0.3)
    bn_case("bn_train_4d_plain", (2, 3, 3, 4), True, affine=False)
    bn_case("bn_train_3d_affine", (4, 3, 5), True, eps=1e-3)
    bn_case("bn_train_n1_spatial", (1, 3, 4, 4), True)
    bn_case("bn_train_nostats", (4, 3, 2, 2), True, stats=False)
    bn_case("bn_train_noncontig", (5, 6), True, noncontig=True)
    bn_case("bn_train_shifted", (8, 2, 3), True, scale=3.0)
    bn_case("bn_eval_2d_affine", (6, 4), False)
    bn_case("bn_eval_4d_affine", (2, 3, 4, 3), False)
    bn_case("bn_eval_4d_plain", (3, 2, 2, 5), False, affine=False)
    bn_case("bn_eval_n1", (1, 4, 3), False)

    # ---- layer norm ----
    def ln_case(name, shape, normalized, affine=True, bias=True, eps=1e-5, noncontig=False):
        inputs = {"x": rn(*shape)}
        if affine:
            inputs["w"] = rn(*normalized)
        if bias:
            inputs["b"] = rn(*normalized)
        args = {"normalized_shape": list(normalized), "eps": eps}
        if noncontig:
            args["noncontig"] = ["x"]
        fam.case(name, "layer_norm", args, inputs,
                 lambda x, w=None, b=None: F.layer_norm(x, normalized, w, b, eps))

    ln_case("ln_last1", (3, 5), (5,))
    ln_case("ln_last2", (2, 3, 4), (3, 4))
    ln_case("ln_plain", (4, 6), (6,), affine=False, bias=False)
    ln_case("ln_weight_only", (2, 2, 5), (5,), bias=False, eps=1e-3)
    ln_case("ln_noncontig", (4, 5), (5,), noncontig=True)
    ln_case("ln_size1", (3, 1), (1,))
    ln_case("ln_all_dims", (3, 4), (3, 4))

    # ---- group norm ----
    def gn_case(name, shape, groups, affine=True, eps=1e-5, noncontig=False):
        c = shape[1]
        inputs = {"x": rn(*shape)}
        if affine:
            inputs["w"] = rn(c)
            inputs["b"] = rn(c)
        args = {"groups": groups, "eps": eps}
        if noncontig:
            args["noncontig"] = ["x"]
        fam.case(name, "group_norm", args, inputs,
                 lambda x, w=None, b=None: F.group_norm(x, groups, w, b, eps))

    gn_case("gn_groups1", (2, 6, 3, 3), 1)
    gn_case("gn_groups_c", (2, 6, 3, 3), 6)
    gn_case("gn_groups3", (2, 6, 3, 3), 3)
    gn_case("gn_plain", (3, 4, 5), 2, affine=False)
    gn_case("gn_rank2", (3, 4), 2, eps=1e-3)
    gn_case("gn_noncontig", (2, 4, 5), 2, noncontig=True)

    # ---- softmax ----
    for dim in (0, 1, 2, -1):
        fam.case(f"softmax_dim{dim}", "softmax", {"dim": dim}, {"x": rn(3, 4, 5)}, lambda x, dim=dim: torch.softmax(x, dim))
        fam.case(f"log_softmax_dim{dim}", "log_softmax", {"dim": dim}, {"x": rn(3, 4, 5)}, lambda x, dim=dim: torch.log_softmax(x, dim))
    fam.case("softmax_noncontig", "softmax", {"dim": 1, "noncontig": ["x"]}, {"x": rn(2, 5, 3)}, lambda x: torch.softmax(x, 1))
    fam.case("log_softmax_noncontig", "log_softmax", {"dim": -1, "noncontig": ["x"]}, {"x": rn(4, 6)}, lambda x: torch.log_softmax(x, -1))
    fam.case("softmax_large", "softmax", {"dim": -1}, {"x": rn(3, 7) * 60}, lambda x: torch.softmax(x, -1))
    fam.case("log_softmax_large", "log_softmax", {"dim": 0}, {"x": rn(6, 3) * 60}, lambda x: torch.log_softmax(x, 0))
    fam.case("softmax_1d", "softmax", {"dim": 0}, {"x": rn(5)}, lambda x: torch.softmax(x, 0))
    fam.case("softmax_size1", "softmax", {"dim": 1}, {"x": rn(3, 1, 2)}, lambda x: torch.softmax(x, 1))

    # ---- cross entropy ----
    reductions = ("mean", "sum", "none")

    def ce(name, logits, target, weight=None, ignore_index=-100, smoothing=0.0, reduction="mean", noncontig=None):
        inputs = {"x": logits, "t": target}
        if weight is not None:
            inputs["w"] = weight
        args = {"ignore_index": ignore_index, "label_smoothing": smoothing, "reduction": reduction}
        if noncontig:
            args["noncontig"] = noncontig
        grads = ["x"] + (["t"] if target.dtype == torch.float32 else [])
        fam.case(name, "cross_entropy", args, inputs,
                 lambda x, t, w=None: F.cross_entropy(x, t, w, ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing),
                 grad_inputs=grads)

    logits, target, weight = rn(6, 5), idx(5, 6), pos(5)
    ignored = target.clone()
    ignored[1] = -100
    ignored[4] = -100
    custom = target.clone()
    custom[2] = 7
    for r in reductions:
        ce(f"ce_idx_{r}", logits, target, reduction=r)
        ce(f"ce_idx_weight_{r}", logits, target, weight, reduction=r)
        ce(f"ce_idx_ignore_{r}", logits, ignored, reduction=r)
        ce(f"ce_idx_weight_ignore_{r}", logits, ignored, weight, reduction=r)
        ce(f"ce_idx_smooth_{r}", logits, target, smoothing=0.1, reduction=r)
        ce(f"ce_idx_weight_ignore_smooth_{r}", logits, ignored, weight, smoothing=0.2, reduction=r)
    ce("ce_idx_custom_ignore", logits, custom, weight, ignore_index=7)
    ce("ce_idx_custom_ignore_smooth", logits, custom, ignore_index=7, smoothing=0.3)
    ce("ce_idx_all_ignored", rn(3, 4), torch.full((3,), -100, dtype=torch.int64), pos(4), reduction="mean")
    ce("ce_idx_noncontig", rn(4, 6), idx(6, 4), noncontig=["x"])
    ce("ce_unbatched", rn(5), torch.tensor(3), reduction="none")
    ce("ce_unbatched_mean", rn(5), torch.tensor(1), pos(5))
    spatial_logits, spatial_target = rn(2, 3, 4, 5), idx(3, 2, 4, 5)
    spatial_target[0, 1, 2] = -100
    spatial_target[1, 3, 0] = -100
    for r in reductions:
        ce(f"ce_spatial_{r}", spatial_logits, spatial_target, reduction=r)
        ce(f"ce_spatial_weight_smooth_{r}", spatial_logits, spatial_target, pos(3), smoothing=0.15, reduction=r)
    ce("ce_spatial_1d", rn(3, 4, 6), idx(4, 3, 6), pos(4))
    soft_logits = rn(5, 4)
    soft = torch.softmax(rn(5, 4) * 2, 1)
    for r in reductions:
        ce(f"ce_soft_{r}", soft_logits, soft, reduction=r)
        ce(f"ce_soft_weight_{r}", soft_logits, soft, pos(4), reduction=r)
        ce(f"ce_soft_smooth_{r}", soft_logits, soft, pos(4), smoothing=0.25, reduction=r)
    ce("ce_soft_spatial", rn(2, 3, 2, 2), torch.softmax(rn(2, 3, 2, 2), 1))
    ce("ce_soft_spatial_none", rn(2, 3, 4), torch.softmax(rn(2, 3, 4), 1), pos(3), reduction="none")

    fam.case("nll_weight_ignore", "nll_loss", {"ignore_index": -100, "reduction": "mean"},
             {"x": torch.log_softmax(rn(6, 5), 1), "t": ignored, "w": pos(5)},
             lambda x, t, w: F.nll_loss(x, t, w, ignore_index=-100), grad_inputs=["x"])
    fam.case("nll_spatial_none", "nll_loss", {"ignore_index": -100, "reduction": "none"},
             {"x": torch.log_softmax(spatial_logits, 1), "t": spatial_target},
             lambda x, t: F.nll_loss(x, t, reduction="none"), grad_inputs=["x"])

    # ---- binary cross entropy with logits ----
    for r in reductions:
        x, t = rn(4, 3) * 3, torch.rand(4, 3, generator=g)
        fam.case(f"bce_logits_{r}", "bce_logits", {"reduction": r}, {"x": x, "t": t},
                 lambda x, t, r=r: F.binary_cross_entropy_with_logits(x, t, reduction=r))
        fam.case(f"bce_logits_weight_{r}", "bce_logits", {"reduction": r}, {"x": x, "t": t, "w": pos(4, 1)},
                 lambda x, t, w, r=r: F.binary_cross_entropy_with_logits(x, t, w, reduction=r), grad_inputs=["x", "t"])
        fam.case(f"bce_logits_pos_weight_{r}", "bce_logits", {"reduction": r}, {"x": x, "t": t, "pw": pos(3) * 2},
                 lambda x, t, pw, r=r: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw, reduction=r), grad_inputs=["x", "t"])
        fam.case(f"bce_logits_both_{r}", "bce_logits", {"reduction": r}, {"x": x, "t": t, "w": pos(3), "pw": pos(3) * 2},
                 lambda x, t, w, pw, r=r: F.binary_cross_entropy_with_logits(x, t, w, pos_weight=pw, reduction=r), grad_inputs=["x", "t"])
    fam.case("bce_logits_large", "bce_logits", {"reduction": "mean"}, {"x": rn(2, 5) * 40, "t": (rn(2, 5) > 0).float()},
             lambda x, t: F.binary_cross_entropy_with_logits(x, t), grad_inputs=["x"])

    # ---- regression losses ----
    for r in reductions:
        a, b = rn(3, 4), rn(3, 4)
        fam.case(f"mse_{r}", "mse_loss", {"reduction": r}, {"x": a, "t": b}, lambda x, t, r=r: F.mse_loss(x, t, reduction=r))
        fam.case(f"l1_{r}", "l1_loss", {"reduction": r}, {"x": a, "t": b}, lambda x, t, r=r: F.l1_loss(x, t, reduction=r))
        for beta in (1.0, 0.5, 0.0):
            fam.case(f"smooth_l1_{r}_b{beta}", "smooth_l1_loss", {"reduction": r, "beta": beta}, {"x": a * 1.5, "t": b},
                     lambda x, t, r=r, beta=beta: F.smooth_l1_loss(x, t, reduction=r, beta=beta))
    fam.case("mse_noncontig", "mse_loss", {"reduction": "mean", "noncontig": ["x"]}, {"x": rn(3, 5), "t": rn(3, 5)},
             lambda x, t: F.mse_loss(x, t))

    # ---- kl divergence ----
    for r in ("mean", "sum", "none", "batchmean"):
        lp = torch.log_softmax(rn(4, 5), 1)
        tp = torch.softmax(rn(4, 5), 1)
        fam.case(f"kl_div_{r}", "kl_div", {"reduction": r, "log_target": False}, {"x": lp, "t": tp},
                 lambda x, t, r=r: F.kl_div(x, t, reduction=r))
        fam.case(f"kl_div_log_target_{r}", "kl_div", {"reduction": r, "log_target": True}, {"x": lp, "t": torch.log(tp)},
                 lambda x, t, r=r: F.kl_div(x, t, reduction=r, log_target=True))
    zeros = torch.softmax(rn(3, 4), 1)
    zeros[0, 1] = 0.0
    zeros[2, 3] = 0.0
    fam.case("kl_div_zero_target", "kl_div", {"reduction": "batchmean", "log_target": False},
             {"x": torch.log_softmax(rn(3, 4), 1), "t": zeros}, lambda x, t: F.kl_div(x, t, reduction="batchmean"), grad_inputs=["x"])

    # ---- cosine similarity, normalize ----
    fam.case("cosine_dim1", "cosine_similarity", {"dim": 1, "eps": 1e-8}, {"a": rn(4, 5), "b": rn(4, 5)},
             lambda a, b: F.cosine_similarity(a, b, 1, 1e-8))
    fam.case("cosine_broadcast", "cosine_similarity", {"dim": -1, "eps": 1e-8}, {"a": rn(3, 1, 5), "b": rn(4, 5)},
             lambda a, b: F.cosine_similarity(a, b, -1, 1e-8))
    small = rn(3, 4)
    small[1] = small[1] * 1e-4
    fam.case("cosine_small_norm", "cosine_similarity", {"dim": 1, "eps": 1e-2}, {"a": small, "b": rn(3, 4)},
             lambda a, b: F.cosine_similarity(a, b, 1, 1e-2))
    fam.case("cosine_dim0", "cosine_similarity", {"dim": 0, "eps": 1e-8, "noncontig": ["a"]}, {"a": rn(6, 3), "b": rn(6, 3)},
             lambda a, b: F.cosine_similarity(a, b, 0, 1e-8))
    fam.case("normalize_dim1", "normalize", {"dim": 1, "eps": 1e-12}, {"x": rn(3, 4)}, lambda x: F.normalize(x, dim=1))
    fam.case("normalize_dim0", "normalize", {"dim": 0, "eps": 1e-12}, {"x": rn(3, 4)}, lambda x: F.normalize(x, dim=0))
    fam.case("normalize_last", "normalize", {"dim": -1, "eps": 1e-12, "noncontig": ["x"]}, {"x": rn(2, 3, 4)}, lambda x: F.normalize(x, dim=-1))
    zero_row = rn(3, 4)
    zero_row[1] = 0.0
    fam.case("normalize_zero_row", "normalize", {"dim": 1, "eps": 1e-3}, {"x": zero_row}, lambda x: F.normalize(x, dim=1, eps=1e-3))
    return fam
