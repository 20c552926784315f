"""Indexing, joining and rearranging ops: embedding, gather, scatter_add, index_select, cat,
stack, split, chunk, pad, roll, flip. Index tensors are inputs too (int64 unless a case says
int32); repeated indices exercise gradient accumulation."""
import torch
import torch.nn.functional as F

from common import Family, seeded


def build():
    fam = Family("indexing")
    g = seeded(7)

    def rn(*shape):
        return torch.randn(tuple(shape), generator=g)

    def ix(high, *shape):
        return torch.randint(0, high, tuple(shape), generator=g)

    # ---- embedding ----
    emb = [
        ("emb_2d", {}, ix(6, 2, 3), rn(6, 4)),
        ("emb_repeat", {}, torch.tensor([1, 1, 4, 1, 0, 4]), rn(5, 3)),
        ("emb_padding", {"padding_idx": 2}, torch.tensor([[2, 0, 2], [3, 3, 1]]), rn(4, 5)),
        ("emb_padding_neg", {"padding_idx": -1}, torch.tensor([3, 0, 3, 1]), rn(4, 2)),
        ("emb_scalar", {}, torch.tensor(2), rn(4, 3)),
        ("emb_size1", {}, ix(1, 3, 1), rn(1, 4)),
        ("emb_noncontig", {"noncontig": ["indices", "weight"]}, ix(5, 4, 3), rn(5, 6)),
        ("emb_int32", {}, ix(7, 2, 2).to(torch.int32), rn(7, 3)),
    ]
    for name, args, indices, weight in emb:
        pad = args.get("padding_idx")
        fam.case(name, "embedding", dict(args, padding_idx=pad), {"indices": indices, "weight": weight},
                 lambda indices, weight, pad=pad: F.embedding(indices, weight, padding_idx=pad))

    # ---- gather ----
    gather = [
        ("gather_0", 1, {}, rn(3, 4), ix(4, 3, 5)),
        ("gather_dim0", 0, {}, rn(4, 3), ix(4, 6, 3)),
        ("gather_neg", -1, {}, rn(2, 3, 4), ix(4, 2, 3, 6)),
        ("gather_smaller", -2, {}, rn(3, 4, 5), ix(4, 2, 6, 3)),
        ("gather_size1", 1, {}, rn(3, 1, 4), ix(1, 3, 1, 4)),
        ("gather_1d", 0, {}, rn(5), torch.tensor([4, 0, 4, 4, 2])),
        ("gather_noncontig", 0, {"noncontig": ["x", "index"]}, rn(4, 5), ix(4, 3, 5)),
    ]
    for name, dim, args, x, index in gather:
        fam.case(name, "gather", dict(args, dim=dim), {"x": x, "index": index}, lambda x, index, dim=dim: torch.gather(x, dim, index))

    # ---- scatter_add ----
    scatter = [
        ("scatter_add_0", 1, {}, rn(3, 5), ix(5, 3, 4), rn(3, 4)),
        ("scatter_add_dim0", 0, {}, rn(4, 3), ix(4, 8, 3), rn(8, 3)),
        ("scatter_add_neg", -1, {}, rn(2, 3, 4), ix(4, 2, 3, 6), rn(2, 3, 6)),
        ("scatter_add_smaller", -3, {}, rn(3, 4, 5), ix(3, 5, 2, 3), rn(5, 2, 3)),
        ("scatter_add_size1", 0, {}, rn(1, 4), ix(1, 3, 4), rn(3, 4)),
        ("scatter_add_noncontig", 1, {"noncontig": ["x", "index", "src"]}, rn(3, 4), ix(4, 3, 6), rn(3, 6)),
    ]
    for name, dim, args, x, index, src in scatter:
        fam.case(name, "scatter_add", dict(args, dim=dim), {"x": x, "index": index, "src": src},
                 lambda x, index, src, dim=dim: torch.scatter_add(x, dim, index, src))

    # ---- index_select ----
    select = [
        ("index_select_0", 0, {}, rn(5, 3), torch.tensor([4, 1, 4, 4])),
        ("index_select_mid", 1, {}, rn(2, 5, 3), torch.tensor([0, 3, 3])),
        ("index_select_neg", -1, {}, rn(2, 3, 4), torch.tensor([3, 0, 3, 1, 2, 3])),
        ("index_select_scalar", 0, {}, rn(4, 2), torch.tensor(3)),
        ("index_select_size1", 1, {}, rn(3, 1, 2), torch.tensor([0, 0])),
        ("index_select_noncontig", 0, {"noncontig": ["x", "index"]}, rn(4, 6), torch.tensor([2, 2, 0])),
        ("index_select_int64", 1, {}, ix(100, 3, 4), torch.tensor([3, 1])),
    ]
    for name, dim, args, x, index in select:
        fam.case(name, "index_select", dict(args, dim=dim), {"x": x, "index": index}, lambda x, index, dim=dim: torch.index_select(x, dim, index))

    # ---- cat / stack (inputs t0, t1, ...) ----
    def joined(name, op, dim, parts, args=None):
        inputs = {f"t{i}": p for i, p in enumerate(parts)}
        fn = torch.cat if op == "cat" else torch.stack
        fam.case(name, op, dict(args or {}, dim=dim), inputs, lambda dim=dim, **ts: fn([ts[f"t{i}"] for i in range(len(ts))], dim))

    joined("cat_0", "cat", 0, [rn(2, 3), rn(4, 3)])
    joined("cat_last", "cat", -1, [rn(2, 3), rn(2, 1), rn(2, 4)])
    joined("cat_mid", "cat", 1, [rn(2, 1, 3), rn(2, 2, 3), rn(2, 3, 3)])
    joined("cat_empty_part", "cat", 1, [rn(2, 0, 3), rn(2, 2, 3), rn(2, 0, 3)])
    joined("cat_legacy_empty", "cat", 0, [torch.zeros(0), rn(2, 3)])
    joined("cat_single", "cat", 0, [rn(3)])
    joined("cat_noncontig", "cat", 0, [rn(2, 4), rn(3, 4)], {"noncontig": ["t0", "t1"]})
    joined("cat_int64", "cat", 0, [ix(9, 2, 2), ix(9, 1, 2)])
    joined("stack_0", "stack", 0, [rn(2, 3), rn(2, 3)])
    joined("stack_last", "stack", -1, [rn(2, 3), rn(2, 3), rn(2, 3)])
    joined("stack_mid", "stack", 1, [rn(4), rn(4)])
    joined("stack_noncontig", "stack", -2, [rn(3, 2), rn(3, 2)], {"noncontig": ["t1"]})

    # ---- split / chunk ----
    split = [
        ("split_even", {"split_size": 2, "dim": 0}, rn(6, 2), lambda x: torch.split(x, 2, 0)),
        ("split_uneven", {"split_size": 3, "dim": 0}, rn(7, 3), lambda x: torch.split(x, 3, 0)),
        ("split_sizes", {"sizes": [1, 4, 2], "dim": -1}, rn(2, 7), lambda x: torch.split(x, [1, 4, 2], -1)),
        ("split_sizes_zero", {"sizes": [2, 0, 1], "dim": 1}, rn(2, 3, 2), lambda x: torch.split(x, [2, 0, 1], 1)),
        ("split_noncontig", {"split_size": 4, "dim": 1, "noncontig": ["x"]}, rn(3, 5), lambda x: torch.split(x, 4, 1)),
        ("chunk_uneven", {"chunks": 3, "dim": 0}, rn(5, 4), lambda x: torch.chunk(x, 3, 0)),
        ("chunk_fewer", {"chunks": 4, "dim": -1}, rn(2, 6), lambda x: torch.chunk(x, 4, -1)),
        ("chunk_size1", {"chunks": 2, "dim": 1}, rn(3, 1, 2), lambda x: torch.chunk(x, 2, 1)),
    ]
    for name, args, x, fn in split:
        # A one-piece result is stored as a plain output ("y"), as the runner reads a single tensor.
        fam.case(name, "chunk" if "chunks" in args else "split", args, {"x": x}, lambda x, fn=fn: fn(x)[0] if len(fn(x)) == 1 else fn(x))

    # ---- pad ----
    pads = [
        ("pad_const_1", (1, 2), "constant", 0.0, rn(2, 3), {}),
        ("pad_const_2", (1, 1, 2, 0), "constant", 1.5, rn(2, 3, 4), {}),
        ("pad_const_all", (1, 0, 0, 1, 2, 1), "constant", -1.0, rn(2, 3, 4), {}),
        ("pad_const_crop", (-1, 2, 1, -2), "constant", 0.5, rn(2, 4, 5), {}),
        ("pad_const_crop_all", (-2, -1), "constant", 0.0, rn(3, 4), {}),
        ("pad_const_size1", (2, 1, 1, 1), "constant", 0.0, rn(3, 1, 1), {}),
        ("pad_const_noncontig", (1, 1, 1, 1), "constant", 2.0, rn(3, 4), {"noncontig": ["x"]}),
        ("pad_reflect_2d", (2, 2), "reflect", 0.0, rn(3, 5), {}),
        ("pad_reflect_3d", (2, 1), "reflect", 0.0, rn(2, 3, 5), {}),
        ("pad_reflect_4d", (1, 2, 3, 1), "reflect", 0.0, rn(1, 2, 4, 5), {}),
        ("pad_reflect_3d_2dims", (1, 1, 2, 2), "reflect", 0.0, rn(2, 3, 4), {}),
        ("pad_reflect_5d", (1, 1, 1, 0, 0, 2), "reflect", 0.0, rn(1, 2, 3, 3, 3), {}),
        ("pad_reflect_noncontig", (1, 2), "reflect", 0.0, rn(2, 4, 3), {"noncontig": ["x"]}),
        ("pad_replicate_3d", (2, 3), "replicate", 0.0, rn(2, 3, 4), {}),
        ("pad_replicate_4d", (2, 1, 1, 3), "replicate", 0.0, rn(1, 2, 3, 4), {}),
        ("pad_replicate_size1", (2, 2, 1, 0), "replicate", 0.0, rn(2, 1, 1), {}),
        ("pad_circular_3d", (2, 1), "circular", 0.0, rn(2, 3, 5), {}),
        ("pad_circular_4d", (1, 2, 3, 0), "circular", 0.0, rn(1, 2, 3, 4), {}),
        ("pad_circular_full", (4, 4), "circular", 0.0, rn(1, 2, 4), {}),
    ]
    for name, p, mode, value, x, args in pads:
        fam.case(name, "pad", dict(args, pads=list(p), mode=mode, value=value), {"x": x},
                 lambda x, p=p, mode=mode, value=value: F.pad(x, p, mode=mode, value=value) if mode == "constant" else F.pad(x, p, mode=mode))

    # ---- roll / flip ----
    rolls = [
        ("roll_1", [2], [1], rn(4, 5), {}),
        ("roll_neg", [-3], [0], rn(4, 5), {}),
        ("roll_multi", [1, -2], [0, 2], rn(3, 4, 5), {}),
        ("roll_multi_neg_dims", [-1, 3, 2], [-1, -2, 0], rn(2, 3, 4), {}),
        ("roll_flat", [5], None, rn(3, 4), {}),
        ("roll_flat_neg", [-7], None, rn(2, 3), {}),
        ("roll_large", [9, -11], [0, 1], rn(4, 3), {}),
        ("roll_same_dim", [1, 2], [1, 1], rn(2, 5), {}),
        ("roll_size1", [1], [1], rn(3, 1), {}),
        ("roll_noncontig", [1, -1], [0, 1], rn(3, 4), {"noncontig": ["x"]}),
    ]
    for name, shifts, dims, x, args in rolls:
        fam.case(name, "roll", dict(args, shifts=shifts, dims=dims), {"x": x},
                 lambda x, shifts=shifts, dims=dims: torch.roll(x, shifts[0] if dims is None else shifts, dims))
    flips = [
        ("flip_0", [0], rn(3, 4), {}),
        ("flip_multi", [0, 2], rn(2, 3, 4), {}),
        ("flip_neg", [-1, -2], rn(2, 3, 4), {}),
        ("flip_all", [0, 1, 2], rn(2, 3, 2), {}),
        ("flip_size1", [1], rn(3, 1, 2), {}),
        ("flip_1d", [0], rn(5), {}),
        ("flip_noncontig", [1, 0], rn(3, 4), {"noncontig": ["x"]}),
        ("flip_int64", [1], ix(50, 2, 3), {}),
    ]
    for name, dims, x, args in flips:
        fam.case(name, "flip", dict(args, dims=dims), {"x": x}, lambda x, dims=dims: torch.flip(x, dims))
    return fam
