"""INTERN multi-stage fine-tuning pieces: the VQ-GAN's vector quantiser (nearest code, straight-through
estimator, codebook and commitment losses), src/Models/Systems/Intern/VectorQuantizer.cs."""
import torch
import torch.nn.functional as F

from common import Family, seeded


def quantize(z, codebook):
    b, d, h, w = z.shape
    flat = z.permute(0, 2, 3, 1).reshape(-1, d)
    distances = (codebook.detach() ** 2).sum(1)[None, :] - 2 * flat.detach() @ codebook.detach().t()
    idx = distances.argmin(1)
    chosen = codebook[idx]
    codebook_loss = F.mse_loss(chosen, flat.detach())
    commitment_loss = F.mse_loss(flat, chosen.detach())
    straight = (flat + (chosen - flat).detach()).reshape(b, h, w, d).permute(0, 3, 1, 2)
    return straight, codebook_loss, commitment_loss, idx


def build():
    fam = Family("intern_mf")
    g = seeded(23)
    for name, (b, d, h, w, k) in {"vq_2x4x3x3_k5": (2, 4, 3, 3, 5), "vq_1x3x4x2_k8": (1, 3, 4, 2, 8)}.items():
        z = torch.randn((b, d, h, w), generator=g)
        codebook = torch.randn((k, d), generator=g)
        fam.case(name, "vq", {}, {"z": z, "codebook": codebook}, quantize)
    return fam
