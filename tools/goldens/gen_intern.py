"""INTERN's Up-A objectives (src/Models/Systems/Intern/UpAmateur.cs, UpLocal.cs): the Up-A-G loss
0.5*ICS + 0.5*STS (multi-view InfoNCE with a learnable temperature, image-image cosine, MLM
cross-entropy over masked positions, nearest-neighbour text targets from a queue) and Up-A-L's
symmetric BYOL loss."""
import math

import torch
import torch.nn.functional as F

from common import Family, seeded


def clip_scale(log_scale):
    return log_scale.clamp(max=math.log(100.0)).exp()


def info_nce(a, b, scale):
    logits = scale * a @ b.t()
    targets = torch.arange(a.shape[0])
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2


def nearest(queue, queries):
    sim = F.normalize(queries, dim=1) @ F.normalize(queue, dim=1).t()
    return queue[sim.argmax(dim=1)]


def upa_objective(i1, i2, t1, t2, logits, targets, queue, log_scale):
    i1, i2, t1, t2 = (F.normalize(x, dim=1) for x in (i1, i2, t1, t2))
    s = clip_scale(log_scale)
    mlm = F.cross_entropy(logits.reshape(-1, logits.shape[2]), targets.reshape(-1), ignore_index=-100)
    cosine = (1 - F.cosine_similarity(i1, i2, dim=1)).mean()
    pairs = [info_nce(i, t, s) for i in (i1, i2) for t in (t1, t2)]
    ics = sum(pairs) / 4 + cosine + mlm
    n = nearest(queue, t1.detach())
    sts = (info_nce(i1, n, s) + info_nce(i2, n, s)) / 2
    return 0.5 * ics + 0.5 * sts, ics, sts, mlm, n


def build():
    fam = Family("intern")
    g = seeded(29)
    for name, (b, d, length, vocab, q, temperature) in {
        "upa_b4_d6": (4, 6, 5, 9, 7, 0.07),
        "upa_b3_d5_t02": (3, 5, 6, 11, 4, 0.2),
    }.items():
        targets = torch.full((b, length), -100, dtype=torch.long)
        picks = torch.rand((b, length), generator=g) < 0.4
        picks[:, 1] = True
        targets[picks] = torch.randint(4, vocab, (int(picks.sum()),), generator=g)
        inputs = {
            "i1": torch.randn((b, d), generator=g), "i2": torch.randn((b, d), generator=g),
            "t1": torch.randn((b, d), generator=g), "t2": torch.randn((b, d), generator=g),
            "logits": torch.randn((b, length, vocab), generator=g), "targets": targets,
            "queue": torch.randn((q, d), generator=g), "log_scale": torch.tensor(math.log(1.0 / temperature)),
        }
        fam.case(name, "upa_objective", {}, inputs, upa_objective,
                 grad_inputs=["i1", "i2", "t1", "t2", "logits", "log_scale"])

    targets = torch.full((2, 7), -100, dtype=torch.long)
    targets[0, 2] = 5
    targets[1, 1] = 8
    targets[1, 4] = 4
    fam.case("mlm_masked", "mlm", {}, {"logits": torch.randn((2, 7, 10), generator=g), "targets": targets},
             lambda logits, targets: F.cross_entropy(logits.reshape(-1, 10), targets.reshape(-1), ignore_index=-100))

    def byol(p1, p2, z1, z2):
        def one(p, z):
            return (2 - 2 * F.cosine_similarity(p, z.detach(), dim=1)).mean()
        return 0.5 * (one(p1, z2) + one(p2, z1))
    fam.case("upal_byol", "upal_byol", {}, {k: torch.randn((6, 5), generator=g) for k in ("p1", "p2", "z1", "z2")}, byol,
             grad_inputs=["p1", "p2"])
    return fam
