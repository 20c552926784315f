"""Shared machinery for the golden-fixture generators.

Every generator builds cases with PyTorch (Debian's python3-torch, run as /usr/bin/python3)
and writes one safetensors file per op family into tests/goldens/. A case stores:
  in.<name>    inputs (float inputs that have a gradient also get grad.<name>)
  out.<name>   outputs of the forward
  gout.<name>  the upstream gradient fed to each float output
  grad.<name>  d(sum_k out_k * gout_k)/d(input) for every input that requires grad
and its arguments as JSON in the file's __metadata__ (key "cases"), with the op name.
Tests rebuild the inputs, run Tessera's op, and compare within the op's tolerance.
"""
import json
import os
import struct

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "goldens")

_DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.int32: "I32", torch.bool: "BOOL"}


def seeded(seed):
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class Family:
    """Collects the cases of one op family and writes tests/goldens/<name>.safetensors."""

    def __init__(self, name):
        self.name = name
        self.cases = []
        self.tensors = {}

    def case(self, name, op, args, inputs, fn, grad_inputs=None, gout_seed=0):
        """Runs fn(**inputs) -> tensor or tuple/dict of tensors; records inputs, outputs and grads.

        grad_inputs: names of float inputs to differentiate (default: every float input).
        """
        assert name not in (c["name"] for c in self.cases), f"duplicate case {name}"
        if grad_inputs is None:
            grad_inputs = [k for k, v in inputs.items() if isinstance(v, torch.Tensor) and v.dtype == torch.float32]
        leaves = {}
        for k, v in inputs.items():
            if isinstance(v, torch.Tensor):
                leaf = v.detach().clone()
                if k in grad_inputs:
                    leaf.requires_grad_(True)
                leaves[k] = leaf
                self.tensors[f"{name}/in.{k}"] = v.detach()
        outs = fn(**leaves)
        if isinstance(outs, torch.Tensor):
            outs = {"y": outs}
        elif isinstance(outs, (tuple, list)):
            outs = {f"y{i}": o for i, o in enumerate(outs)}
        g = torch.Generator().manual_seed(1000 + gout_seed)
        total = None
        for k, o in outs.items():
            self.tensors[f"{name}/out.{k}"] = o.detach()
            if o.dtype == torch.float32 and o.requires_grad:
                gout = torch.randn(o.shape, generator=g)
                self.tensors[f"{name}/gout.{k}"] = gout
                term = (o * gout).sum()
                total = term if total is None else total + term
        grads = []
        if total is not None and grad_inputs:
            wrt = [leaves[k] for k in grad_inputs]
            computed = torch.autograd.grad(total, wrt, allow_unused=True)
            for k, gr in zip(grad_inputs, computed):
                if gr is None:
                    gr = torch.zeros_like(leaves[k])
                self.tensors[f"{name}/grad.{k}"] = gr.detach()
                grads.append(k)
        self.cases.append({"name": name, "op": op, "args": args, "grads": grads})

    def write(self):
        os.makedirs(OUT_DIR, exist_ok=True)
        path = os.path.join(OUT_DIR, f"{self.name}.safetensors")
        write_safetensors(path, self.tensors, {"cases": json.dumps(self.cases, sort_keys=True)})
        size = os.path.getsize(path)
        print(f"{self.name}: {len(self.cases)} cases, {len(self.tensors)} tensors, {size / 1024:.0f} KiB -> {os.path.relpath(path, ROOT)}")


def write_safetensors(path, tensors, metadata):
    """Minimal safetensors writer: 8-byte little-endian header size, JSON header, raw data."""
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for key in sorted(tensors):
        t = tensors[key].detach().contiguous().cpu()
        data = t.numpy().tobytes() if t.dtype != torch.bool else t.to(torch.uint8).numpy().tobytes()
        header[key] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * ((8 - len(raw) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
