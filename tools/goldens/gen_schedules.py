"""Learning-rate schedules and gradient clipping from torch.optim / torch.nn.utils."""
import torch

from common import Family, seeded

STEPS = 14


def lrs(make):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.5)
    sched = make(opt)
    out = []
    for _ in range(STEPS):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return torch.tensor(out, dtype=torch.float32)


def build():
    fam = Family("schedules")
    S = torch.optim.lr_scheduler
    cases = {
        # Within T_max only: past it torch's cosine swings back up, ours holds at the minimum.
        "cosine": ({"kind": "cosine", "total": 13, "min_factor": 0.1}, lambda o: S.CosineAnnealingLR(o, T_max=13, eta_min=0.05)),
        "multistep": ({"kind": "multistep", "milestones": [3, 8], "gamma": 0.2}, lambda o: S.MultiStepLR(o, milestones=[3, 8], gamma=0.2)),
        "poly": ({"kind": "poly", "total": 8, "power": 2.0}, lambda o: S.PolynomialLR(o, total_iters=8, power=2.0)),
        "linear": ({"kind": "linear", "start": 0.1, "end": 1.0, "total": 5}, lambda o: S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=5)),
        "warmup_cosine": ({"kind": "warmup_cosine", "warmup": 3, "start": 0.01, "total": 11},
                          lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.01, total_iters=3), S.CosineAnnealingLR(o, T_max=11)], milestones=[3])),
    }
    for name, (args, make) in cases.items():
        fam.case(name, "schedule", args, {}, lambda make=make: lrs(make), grad_inputs=[])

    g = seeded(9)
    for i, max_norm in enumerate([0.5, 100.0]):
        grads = [torch.randn((3, 4), generator=g), torch.randn((5,), generator=g)]

        def clip(a, b, max_norm=max_norm):
            ps = [torch.nn.Parameter(torch.zeros_like(a)), torch.nn.Parameter(torch.zeros_like(b))]
            ps[0].grad, ps[1].grad = a.clone(), b.clone()
            norm = torch.nn.utils.clip_grad_norm_(ps, max_norm)
            return ps[0].grad, ps[1].grad, norm.reshape(())
        fam.case(f"clip_norm_{i}", "clip_norm", {"max_norm": max_norm}, {"a": grads[0], "b": grads[1]}, clip, grad_inputs=[])
    return fam
