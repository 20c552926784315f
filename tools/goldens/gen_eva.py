"""EVA (paper 003) objectives: the CLIP loss with a learnable logit scale, the masked
negative-cosine feature loss, and CLIP's zero-shot classifier from prompt embeddings.

clip_loss: image and text features [B, D] (not normalised), the log scale as a 0-d tensor;
  both sides L2-normalised, logits = min(exp(log_scale), 100) * img @ txt.T, loss = mean of the
  cross entropies over rows and over columns with diagonal targets (OpenCLIP's ClipLoss, the
  scale clamped as CLIP clamps it). Gradients to both feature sets and to the log scale (zero
  once the clamp is active).
neg_cosine: prediction and target [B, N, D], mask [B, N] of 0/1 (or none): mean over masked
  rows of -cosine_similarity(pred, target, dim=-1, eps=1e-8); the target is detached (the
  teacher gets no gradient), so only the prediction has a gradient.
zero_shot: prompt embeddings [C, T, E] and image embeddings [B, E]: class weights = normalise(
  mean_T(normalise(text))), logits = scale * normalise(image) @ weights.T.
"""
import math

import torch
import torch.nn.functional as F

from common import Family, seeded


def clip_loss(img, txt, log_scale):
    scale = log_scale.exp().clamp(max=100.0)
    a = F.normalize(img, dim=-1)
    b = F.normalize(txt, dim=-1)
    logits = scale * a @ b.T
    targets = torch.arange(img.shape[0])
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def neg_cosine(pred, target, mask=None):
    cos = F.cosine_similarity(pred, target.detach(), dim=-1, eps=1e-8)
    if mask is None:
        return -cos.mean()
    return -(cos * mask).sum() / mask.sum()


def zero_shot(text, image, scale):
    weights = F.normalize(F.normalize(text, dim=-1).mean(1), dim=-1)
    return weights, scale * F.normalize(image, dim=-1) @ weights.T


def build():
    fam = Family("eva")
    for i, (batch, dim, log_scale) in enumerate([(4, 8, math.log(1 / 0.07)), (6, 16, 2.0), (5, 8, 5.0)]):
        g = seeded(1400 + i)
        img = torch.randn(batch, dim, generator=g)
        txt = img * 0.5 + torch.randn(batch, dim, generator=g)
        fam.case(f"clip_loss_{i}", "clip_loss", {"clamped": log_scale > math.log(100)},
                 {"img": img, "txt": txt, "log_scale": torch.tensor(log_scale, dtype=torch.float32)}, clip_loss)
    for i, (batch, patches, dim, masked) in enumerate([(2, 16, 8, True), (3, 9, 12, True), (2, 4, 6, False)]):
        g = seeded(1410 + i)
        pred = torch.randn(batch, patches, dim, generator=g)
        target = pred * 0.3 + torch.randn(batch, patches, dim, generator=g)
        inputs = {"pred": pred, "target": target}
        if masked:
            mask = (torch.rand(batch, patches, generator=g) < 0.4).float()
            mask[:, 0] = 1.0
            inputs["mask"] = mask
            fam.case(f"neg_cosine_{i}", "neg_cosine", {"masked": True}, inputs, neg_cosine, grad_inputs=["pred"])
        else:
            fam.case(f"neg_cosine_{i}", "neg_cosine", {"masked": False}, inputs, lambda pred, target: neg_cosine(pred, target), grad_inputs=["pred"])
    for i, (classes, templates, dim, batch, scale) in enumerate([(5, 3, 8, 6, 100.0), (12, 12, 16, 4, 14.3)]):
        g = seeded(1420 + i)
        text = torch.randn(classes, templates, dim, generator=g)
        image = torch.randn(batch, dim, generator=g)
        fam.case(f"zero_shot_{i}", "zero_shot", {"scale": scale}, {"text": text, "image": image},
                 lambda text, image, s=scale: zero_shot(text, image, s), grad_inputs=[])
    return fam
