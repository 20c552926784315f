"""Shared objectives (src/Models/Objectives): CLIP/InfoNCE with a learnable logit scale, multi-view
InfoNCE, masked negative cosine (EVA), BYOL regression loss, queue nearest neighbours."""
import math

import torch
import torch.nn.functional as F

from common import Family, seeded


def clip_scale(log_scale):
    # CLIP: logit_scale.exp() with the parameter clamped at ln(100)
    return log_scale.clamp(max=math.log(100.0)).exp()


def info_nce(a, b, scale):
    a = F.normalize(a, dim=1)
    b = F.normalize(b, dim=1)
    logits = scale * a @ b.t()
    targets = torch.arange(a.shape[0])
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2


def build():
    fam = Family("objectives")
    g = seeded(17)
    for name, (batch, dim, temperature) in {
        "info_nce_b4_d8": (4, 8, 0.07),
        "info_nce_b6_d5_t03": (6, 5, 0.3),
        "info_nce_clamped": (5, 4, 0.005),  # 1/0.005 = 200 > 100: the clamp holds the scale and stops its gradient
    }.items():
        a = torch.randn((batch, dim), generator=g)
        b = torch.randn((batch, dim), generator=g)
        log_scale = torch.tensor(math.log(1.0 / temperature))
        fam.case(name, "info_nce", {}, {"a": a, "b": b, "log_scale": log_scale},
                 lambda a, b, log_scale: info_nce(a, b, clip_scale(log_scale)))

    images = [torch.randn((4, 6), generator=g) for _ in range(2)]
    texts = [torch.randn((4, 6), generator=g) for _ in range(2)]

    def multi_view(i0, i1, t0, t1, log_scale):
        s = clip_scale(log_scale)
        terms = [info_nce(i, t, s) for i in (i0, i1) for t in (t0, t1)]
        return sum(terms) / len(terms)
    fam.case("multi_view_2x2", "multi_view_info_nce", {},
             {"i0": images[0], "i1": images[1], "t0": texts[0], "t1": texts[1], "log_scale": torch.tensor(math.log(1 / 0.07))}, multi_view)

    def negative_cosine(pred, target, mask):
        cos = F.cosine_similarity(pred, target, dim=-1)
        return -(cos * mask).sum() / mask.sum()
    pred = torch.randn((2, 9, 5), generator=g)
    target = torch.randn((2, 9, 5), generator=g)
    mask = (torch.rand((2, 9), generator=g) < 0.4).float()
    mask[0, 0] = 1.0
    fam.case("negative_cosine_masked", "negative_cosine", {}, {"pred": pred, "target": target, "mask": mask},
             negative_cosine, grad_inputs=["pred"])
    fam.case("negative_cosine_all", "negative_cosine", {}, {"pred": pred, "target": target},
             lambda pred, target: -F.cosine_similarity(pred, target, dim=-1).mean(), grad_inputs=["pred"])

    online = torch.randn((7, 6), generator=g)
    tgt = torch.randn((7, 6), generator=g)
    fam.case("byol", "byol", {}, {"online": online, "target": tgt},
             lambda online, target: (2 - 2 * F.cosine_similarity(online, target, dim=1)).mean(), grad_inputs=["online"])

    queue = torch.randn((10, 4), generator=g)
    queries = torch.randn((3, 4), generator=g)

    def nearest(queue, queries):
        sim = F.normalize(queries, dim=1) @ F.normalize(queue, dim=1).t()
        return queue[sim.argmax(dim=1)]
    fam.case("queue_nearest", "queue_nearest", {}, {"queue": queue, "queries": queries}, nearest, grad_inputs=[])
    build_moco(fam, g)
    return fam


def build_moco(fam, g):
    """MoCo: CE([q.k+, q.Q]/tau, 0) against a queue, then the queue after enqueueing the keys."""
    queue = F.normalize(torch.randn((6, 4), generator=g), dim=1)
    q = torch.randn((3, 4), generator=g)
    k = torch.randn((3, 4), generator=g)

    def moco(q, k, queue):
        qn = F.normalize(q, dim=1)
        kn = F.normalize(k, dim=1).detach()
        logits = torch.cat([(qn * kn).sum(1, keepdim=True), qn @ queue.t()], dim=1) / 0.2
        loss = F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long))
        # MoCo's dequeue-and-enqueue with the pointer at 0: the keys overwrite the oldest rows.
        after = torch.cat([kn, queue[kn.shape[0]:]], dim=0)
        return loss, after
    fam.case("moco_queue", "moco", {"temperature": 0.2}, {"q": q, "k": k, "queue": queue}, moco, grad_inputs=["q"])
