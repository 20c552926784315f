"""HVP-MTL (paper 002) objectives and the Query2Label decoder, as Tessera implements them
(src/Models/Objectives/AsymmetricLoss.cs, src/Models/Systems/HvpMtl/):
weighted ASL (paper settings eta=10, g+=4, g-=1; original ASL g+=0, g-=4, margin 0.05; BCE),
Sinkhorn-Knopp with the clamp, SwAV swapped prediction, SimMIM masked L1, the symmetric KL of
momentum distillation over softmax(cos / tau), and a Query2Label decoder forward/backward
(nn.TransformerDecoderLayer, post-norm, ReLU, no dropout, batch_first)."""
import torch
import torch.nn.functional as F
from torch.nn.utils import stateless

from common import Family, seeded

EPS = 1e-8


def asl(logits, targets, eta, gamma_pos, gamma_neg, margin):
    p = torch.sigmoid(logits)
    pos = torch.log(p.clamp(min=EPS))
    if gamma_pos > 0:
        pos = pos * (1 - p) ** gamma_pos
    pos = pos * eta
    neg_c = 1 - p
    if margin > 0:
        neg_c = (neg_c + margin).clamp(max=1)
    neg = torch.log(neg_c.clamp(min=EPS))
    if gamma_neg > 0:
        neg = neg * (1 - neg_c) ** gamma_neg
    return -(targets * pos + (1 - targets) * neg).sum()


@torch.no_grad()
def sinkhorn(scores, eps, iterations, clamp):
    q = torch.exp((scores / eps).clamp(max=clamp)).t()
    q = q / q.sum()
    k, b = q.shape
    for _ in range(iterations):
        q = q / q.sum(dim=1, keepdim=True) / k
        q = q / q.sum(dim=0, keepdim=True) / b
    return (q * b).t()


def swapped(scores_t, scores_s, tau, eps, iterations, clamp):
    q_t = sinkhorn(scores_t, eps, iterations, clamp)
    q_s = sinkhorn(scores_s, eps, iterations, clamp)
    ce = lambda s, q: -(q * F.log_softmax(s / tau, dim=1)).sum(dim=1).mean()
    return ce(scores_t, q_s) + ce(scores_s, q_t)


def masked_l1(rec, img, patch_mask, patch):
    b, c, h, w = img.shape
    gh, gw = h // patch, w // patch
    m = patch_mask.reshape(b, 1, gh, 1, gw, 1).expand(b, 1, gh, patch, gw, patch).reshape(b, 1, h, w)
    return ((rec - img).abs() * m).sum() / (m.sum() + 1e-5) / c


def sym_kl(g, q0, g_t, q0_t, tau):
    s = F.log_softmax(F.normalize(g, dim=1) @ F.normalize(q0, dim=1).t() / tau, dim=1)
    t = F.log_softmax(F.normalize(g_t, dim=1) @ F.normalize(q0_t, dim=1).t() / tau, dim=1).detach()
    return ((s.exp() * (s - t)).sum(1) + (t.exp() * (t - s)).sum(1)).mean() * 0.5


class Query2Label(torch.nn.Module):
    def __init__(self, in_channels, classes, dim, layers, heads):
        super().__init__()
        self.input_proj = torch.nn.Linear(in_channels, dim)
        self.query_embed = torch.nn.Parameter(torch.randn(classes, dim))
        self.layers = torch.nn.ModuleList([torch.nn.TransformerDecoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True)
                                           for _ in range(layers)])
        self.fc_weight = torch.nn.Parameter(torch.randn(classes, dim) * 0.3)
        self.fc_bias = torch.nn.Parameter(torch.randn(classes) * 0.3)

    def forward(self, tokens):
        memory = self.input_proj(tokens)
        x = self.query_embed.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        for layer in self.layers:
            x = layer(x, memory)
        return (x * self.fc_weight.unsqueeze(0)).sum(2) + self.fc_bias.unsqueeze(0), x


def build():
    fam = Family("hvpmtl")
    g = seeded(2002)
    logits = torch.randn((6, 12), generator=g) * 2.5
    targets = (torch.rand((6, 12), generator=g) < 0.3).float()
    for name, (eta, gp, gn, margin) in {"asl_weighted": (10.0, 4.0, 1.0, 0.0), "asl_original": (1.0, 0.0, 4.0, 0.05),
                                         "asl_bce": (1.0, 0.0, 0.0, 0.0)}.items():
        fam.case(name, "asl", {"eta": eta, "gamma_pos": gp, "gamma_neg": gn, "margin": margin},
                 {"logits": logits, "targets": targets},
                 lambda logits, targets, a=(eta, gp, gn, margin): asl(logits, targets, *a), grad_inputs=["logits"])

    # Scores like fᵀc of unit vectors (|s| ≤ 1) over ε = 0.05: s/ε reaches ±20, so the clamp at 10 bites.
    scores = torch.tanh(torch.randn((8, 5), generator=g) * 1.5)
    fam.case("sinkhorn_clamped", "sinkhorn", {"epsilon": 0.05, "iterations": 3, "clamp": 10.0}, {"scores": scores},
             lambda scores: sinkhorn(scores, 0.05, 3, 10.0), grad_inputs=[])
    fam.case("sinkhorn_unclamped", "sinkhorn", {"epsilon": 0.5, "iterations": 5, "clamp": 10.0}, {"scores": scores},
             lambda scores: sinkhorn(scores, 0.5, 5, 10.0), grad_inputs=[])
    scores_t = torch.tanh(torch.randn((8, 6), generator=g))
    scores_s = torch.tanh(torch.randn((8, 6), generator=g))
    fam.case("swapped", "swapped", {"temperature": 0.1, "epsilon": 0.05, "iterations": 3, "clamp": 10.0},
             {"scores_t": scores_t, "scores_s": scores_s},
             lambda scores_t, scores_s: swapped(scores_t, scores_s, 0.1, 0.05, 3, 10.0))

    rec = torch.randn((2, 3, 8, 8), generator=g)
    img = torch.randn((2, 3, 8, 8), generator=g)
    patch_mask = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 1.0]])
    fam.case("simmim_l1", "simmim_l1", {"patch": 4}, {"reconstruction": rec, "images": img, "patch_mask": patch_mask},
             lambda reconstruction, images, patch_mask: masked_l1(reconstruction, images, patch_mask, 4), grad_inputs=["reconstruction"])

    g_s, g_t = torch.randn((4, 8), generator=g), torch.randn((4, 8), generator=g)
    q0, q0_t = torch.randn((12, 8), generator=g), torch.randn((12, 8), generator=g)
    fam.case("sym_kl", "sym_kl", {"temperature": 0.1}, {"g": g_s, "q0": q0, "g_t": g_t, "q0_t": q0_t},
             lambda g, q0, g_t, q0_t: sym_kl(g, q0, g_t, q0_t, 0.1), grad_inputs=["g", "q0"])

    torch.manual_seed(7)
    head = Query2Label(10, 5, 8, 2, 2)
    params = {k: v.detach().clone() for k, v in head.named_parameters()}
    tokens = torch.randn((2, 6, 10), generator=g)
    fam.case("query2label", "query2label", {"in_channels": 10, "classes": 5, "dim": 8, "layers": 2, "heads": 2},
             {"tokens": tokens, **params},
             lambda tokens, **p: stateless.functional_call(head, p, (tokens,)))
    return fam
