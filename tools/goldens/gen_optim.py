"""Optimiser steps: a parameter and a sequence of gradients in, the parameter after each step out."""
import torch

from common import Family, seeded

STEPS = 4


def run(opt_factory, p0, grads):
    p = torch.nn.Parameter(p0.clone())
    opt = opt_factory([p])
    outs = []
    for s in range(grads.shape[0]):
        opt.zero_grad()
        p.grad = grads[s].clone()
        opt.step()
        outs.append(p.detach().clone())
    return torch.stack(outs)


def build():
    fam = Family("optim")
    g = seeded(5)
    configs = {
        "sgd_plain": ("sgd", {"lr": 0.1}),
        "sgd_momentum": ("sgd", {"lr": 0.05, "momentum": 0.9}),
        "sgd_dampening_wd": ("sgd", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}),
        "sgd_nesterov": ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
        "adamw_default": ("adamw", {"lr": 1e-2}),
        "adamw_custom": ("adamw", {"lr": 3e-3, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
    }
    for name, (kind, kw) in configs.items():
        p0 = torch.randn((3, 5), generator=g)
        grads = torch.randn((STEPS, 3, 5), generator=g)
        factory = (lambda ps, kw=kw: torch.optim.SGD(ps, **kw)) if kind == "sgd" else (lambda ps, kw=kw: torch.optim.AdamW(ps, **kw))
        args = dict(kw)
        if "betas" in args:
            args["beta1"], args["beta2"] = args.pop("betas")
        fam.case(name, kind, args, {"p": p0, "grads": grads}, lambda p, grads, f=factory: run(f, p, grads), grad_inputs=[])
    return fam
