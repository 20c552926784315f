"""Elementwise, comparison, reduction, matmul and view ops."""
import torch
import torch.nn.functional as F

from common import Family, seeded


def build():
    fam = Family("core")
    g = seeded(1)

    def rn(*shape):
        return torch.randn(tuple(shape), generator=g)

    def pos(*shape):
        return torch.rand(tuple(shape), generator=g) + 0.5

    # ---- binary with broadcasting ----
    binary = {
        "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
        "maximum": torch.maximum, "minimum": torch.minimum,
    }
    shapes = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 4)), ((1, 5), (1, 1)), ((2, 1, 3), (4, 1)), ((), (2, 3))]
    for op, fn in binary.items():
        for i, (sa, sb) in enumerate(shapes):
            b = rn(*sb) if op != "div" else pos(*sb) * torch.sign(rn(*sb))
            fam.case(f"{op}_{i}", op, {}, {"a": rn(*sa), "b": b}, lambda a, b, fn=fn: fn(a, b))
        fam.case(f"{op}_noncontig", op, {"noncontig": ["a"]}, {"a": rn(4, 3), "b": rn(4, 3)}, lambda a, b, fn=fn: fn(a, b))
    fam.case("pow_tensor", "pow", {}, {"a": pos(3, 4), "b": rn(4)}, lambda a, b: torch.pow(a, b))
    for i, p in enumerate([2.0, 0.5, -1.5, 3.0]):
        fam.case(f"pow_scalar_{i}", "pow_scalar", {"exponent": p}, {"x": pos(2, 5)}, lambda x, p=p: torch.pow(x, p))
    fam.case("add_scalar", "add_scalar", {"value": 2.5}, {"x": rn(3, 2)}, lambda x: x + 2.5)
    fam.case("rsub_scalar", "rsub_scalar", {"value": 1.5}, {"x": rn(3, 2)}, lambda x: 1.5 - x)
    fam.case("rdiv_scalar", "rdiv_scalar", {"value": 2.0}, {"x": pos(3, 2)}, lambda x: 2.0 / x)

    # ---- unary ----
    unary = {
        "neg": (torch.neg, rn), "abs": (torch.abs, rn), "exp": (torch.exp, rn), "log": (torch.log, pos),
        "sqrt": (torch.sqrt, pos), "rsqrt": (torch.rsqrt, pos), "tanh": (torch.tanh, rn), "sigmoid": (torch.sigmoid, rn),
        "relu": (torch.relu, rn), "gelu": (F.gelu, rn), "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), rn),
        "silu": (F.silu, rn),
    }
    for op, (fn, make) in unary.items():
        fam.case(f"{op}_0", op, {}, {"x": make(4, 5) * (3 if op.startswith("gelu") or op == "silu" else 1)}, lambda x, fn=fn: fn(x))
        fam.case(f"{op}_noncontig", op, {"noncontig": ["x"]}, {"x": make(3, 1, 6)}, lambda x, fn=fn: fn(x))
    fam.case("gelu_wide_range", "gelu", {}, {"x": torch.linspace(-9, 9, 803).reshape(11, 73)}, lambda x: F.gelu(x))
    fam.case("silu_wide_range", "silu", {}, {"x": torch.linspace(-20, 20, 803).reshape(11, 73)}, lambda x: F.silu(x))
    fam.case("clamp_both", "clamp", {"min": -0.5, "max": 0.7}, {"x": rn(4, 6)}, lambda x: torch.clamp(x, -0.5, 0.7))
    fam.case("clamp_min", "clamp", {"min": 0.1, "max": None}, {"x": rn(7)}, lambda x: torch.clamp(x, min=0.1))
    fam.case("clamp_max", "clamp", {"min": None, "max": -0.2}, {"x": rn(2, 3)}, lambda x: torch.clamp(x, max=-0.2))

    # ---- comparisons, where, masked_fill ----
    a, b = rn(3, 4), rn(4)
    b[1] = a[0, 1]  # one tie so eq/le/ge see equality
    for op, fn in {"eq": torch.eq, "ne": torch.ne, "lt": torch.lt, "le": torch.le, "gt": torch.gt, "ge": torch.ge}.items():
        fam.case(f"{op}_0", op, {}, {"a": a, "b": b}, lambda a, b, fn=fn: fn(a, b))
    cond = rn(2, 1, 4) > 0
    fam.case("where_0", "where", {}, {"cond": cond, "a": rn(3, 4), "b": rn(2, 3, 1)}, lambda cond, a, b: torch.where(cond, a, b))
    fam.case("where_1", "where", {}, {"cond": rn(5) > 0, "a": rn(5), "b": rn(1)}, lambda cond, a, b: torch.where(cond, a, b))
    fam.case("masked_fill_0", "masked_fill", {"value": -1e9}, {"x": rn(2, 3, 4), "mask": rn(3, 1) > 0}, lambda x, mask: x.masked_fill(mask, -1e9))

    # ---- reductions ----
    x = rn(3, 4, 5)
    for i, (dims, keep) in enumerate([(None, False), ([0], False), ([1], True), ([0, 2], False), ([-1], True), ([0, 1, 2], True)]):
        args = {"dims": dims, "keepdim": keep}
        for op, fn in {"sum": torch.sum, "mean": torch.mean}.items():
            fam.case(f"{op}_{i}", op, args, {"x": x}, lambda x, fn=fn, dims=dims, keep=keep: fn(x) if dims is None else fn(x, dims, keepdim=keep))
        for corr in (0, 1):
            for op, fn in {"var": torch.var, "std": torch.std}.items():
                fam.case(f"{op}_{i}_c{corr}", op, dict(args, correction=corr), {"x": x},
                         lambda x, fn=fn, dims=dims, keep=keep, corr=corr: fn(x, dim=dims, unbiased=bool(corr), keepdim=keep))
        if dims is not None:
            fam.case(f"logsumexp_{i}", "logsumexp", args, {"x": x * 3}, lambda x, dims=dims, keep=keep: torch.logsumexp(x, dims, keepdim=keep))
    fam.case("sum_noncontig", "sum", {"dims": [1], "keepdim": False, "noncontig": ["x"]}, {"x": rn(4, 6)}, lambda x: x.sum(1))
    fam.case("sum_size1", "sum", {"dims": [1], "keepdim": True}, {"x": rn(3, 1, 2)}, lambda x: x.sum(1, keepdim=True))
    for i, (dim, keep) in enumerate([(0, False), (1, True), (-1, False)]):
        fam.case(f"max_dim_{i}", "max_dim", {"dim": dim, "keepdim": keep}, {"x": rn(3, 4, 5)}, lambda x, dim=dim, keep=keep: tuple(torch.max(x, dim, keepdim=keep)))
        fam.case(f"min_dim_{i}", "min_dim", {"dim": dim, "keepdim": keep}, {"x": rn(3, 4, 5)}, lambda x, dim=dim, keep=keep: tuple(torch.min(x, dim, keepdim=keep)))
        fam.case(f"argmax_{i}", "argmax", {"dim": dim, "keepdim": keep}, {"x": rn(3, 4, 5)}, lambda x, dim=dim, keep=keep: torch.argmax(x, dim, keepdim=keep))
    fam.case("argmax_all", "argmax", {"dim": None, "keepdim": False}, {"x": rn(3, 4)}, lambda x: torch.argmax(x))
    fam.case("max_all", "max_all", {}, {"x": rn(4, 5)}, lambda x: torch.max(x))
    tie = torch.tensor([[1.0, 3.0], [3.0, -2.0]])
    fam.case("max_all_tie", "max_all", {}, {"x": tie}, lambda x: torch.max(x))
    fam.case("min_all", "min_all", {}, {"x": rn(6)}, lambda x: torch.min(x))

    # ---- matmul family ----
    mm = [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 1, 3, 4), (5, 4, 6)), ((2, 3, 4), (4, 2)), ((1, 4), (4, 1))]
    for i, (sa, sb) in enumerate(mm):
        fam.case(f"matmul_{i}", "matmul", {}, {"a": rn(*sa), "b": rn(*sb)}, lambda a, b: torch.matmul(a, b))
    fam.case("matmul_noncontig", "matmul", {"noncontig": ["a", "b"]}, {"a": rn(2, 5, 3), "b": rn(2, 3, 4)}, lambda a, b: a @ b)
    fam.case("bmm_0", "bmm", {}, {"a": rn(3, 2, 4), "b": rn(3, 4, 5)}, lambda a, b: torch.bmm(a, b))
    fam.case("linear_bias", "linear", {}, {"x": rn(2, 3, 6), "w": rn(4, 6), "b": rn(4)}, lambda x, w, b: F.linear(x, w, b))
    fam.case("linear_nobias", "linear", {}, {"x": rn(5, 6), "w": rn(3, 6)}, lambda x, w: F.linear(x, w))
    fam.case("linear_noncontig", "linear", {"noncontig": ["x"]}, {"x": rn(4, 6), "w": rn(3, 6), "b": rn(3)}, lambda x, w, b: F.linear(x, w, b))

    # ---- views (forward values and the gradient routing) ----
    v = rn(2, 3, 4)
    fam.case("reshape_0", "reshape", {"shape": [4, -1]}, {"x": v}, lambda x: x.reshape(4, -1))
    fam.case("reshape_noncontig", "reshape", {"shape": [-1], "noncontig": ["x"]}, {"x": rn(3, 4)}, lambda x: x.reshape(-1))
    fam.case("permute_0", "permute", {"dims": [2, 0, 1]}, {"x": v}, lambda x: x.permute(2, 0, 1))
    fam.case("transpose_0", "transpose", {"dim0": 0, "dim1": -1}, {"x": v}, lambda x: x.transpose(0, -1))
    fam.case("narrow_0", "narrow", {"dim": 2, "start": 1, "length": 2}, {"x": v}, lambda x: x.narrow(2, 1, 2))
    fam.case("slice_step", "slice", {"dim": 1, "start": 0, "end": 3, "step": 2}, {"x": v}, lambda x: x[:, 0:3:2])
    fam.case("select_0", "select", {"dim": 1, "index": -1}, {"x": v}, lambda x: x.select(1, -1))
    fam.case("expand_0", "expand", {"shape": [2, 3, 4]}, {"x": rn(3, 1)}, lambda x: x.expand(2, 3, 4))
    fam.case("squeeze_0", "squeeze", {"dim": 1}, {"x": rn(3, 1, 2)}, lambda x: x.squeeze(1))
    fam.case("squeeze_all", "squeeze", {"dim": None}, {"x": rn(1, 3, 1, 2)}, lambda x: x.squeeze())
    fam.case("unsqueeze_0", "unsqueeze", {"dim": -1}, {"x": rn(3, 2)}, lambda x: x.unsqueeze(-1))
    fam.case("flatten_0", "flatten", {"start": 1, "end": -1}, {"x": v}, lambda x: x.flatten(1))
    fam.case("contiguous_noncontig", "contiguous", {"noncontig": ["x"]}, {"x": rn(3, 5)}, lambda x: x.contiguous() * 1.0)
    return fam
