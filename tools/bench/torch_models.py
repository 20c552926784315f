"""PyTorch twins of the models behind Tessera's train_step_* benches (src/Models/Benchmarks/TrainStepModels.cs).

Each twin is the same computation as Tessera's model: same layers, shapes and parameter count
(tests/Tessera.Tests/Benchmarks/TrainStepModelTests.cs pins Tessera's count to the number this file
gives: `python3 tools/bench/torch_bench.py --params`). Plain torch only, so PyTorch 1.13 and 2.6
run the same file; where 2.6 has a fused op its users call (scaled_dot_product_attention), the
twin uses it, and 1.13 gets the explicit formula.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


def attention(q, k, v, bias=None):
    """softmax(q·kᵀ/√d + bias)·v: the fused kernel where PyTorch has one, else the formula."""
    if HAS_SDPA:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    scores = q @ k.transpose(-2, -1) * (q.shape[-1] ** -0.5)
    if bias is not None:
        scores = scores + bias
    return torch.softmax(scores, dim=-1) @ v


class DropPath(nn.Module):
    """Stochastic depth per sample (timm's drop_path; Tessera's Functional.DropPath)."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class VitBlock(nn.Module):
    """Tessera's VitBlock: pre-norm nn.MultiheadAttention (packed in_proj) and an MLP, eps 1e-6."""

    def __init__(self, dim, heads, drop_path=0.0):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.drop_path = DropPath(drop_path)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x, key_padding_mask=None, attn_mask=None):
        h = self.norm1(x)
        x = x + self.drop_path(self.attn(h, h, h, key_padding_mask=key_padding_mask, attn_mask=attn_mask, need_weights=False)[0])
        return x + self.drop_path(self.mlp(self.norm2(x)))


# --- Swin (src/Models/Nn/Backbones/SwinTransformer.cs, src/Models/Nn/Blocks/SwinBlock.cs) ---

def relative_position_index(ws):
    coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)  # [2, ws²]
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (ws - 1)
    return rel[:, :, 0] * (2 * ws - 1) + rel[:, :, 1]


def shift_mask(height, width, ws, shift):
    """Swin's SW-MSA mask [nW, ws², ws²]: −100 between tokens of different regions of the rolled map."""
    def band(p, size):
        return 0 if p < size - ws else 1 if p < size - shift else 2
    region = torch.tensor([[3 * band(r, height) + band(c, width) for c in range(width)] for r in range(height)])
    windows = region.reshape(height // ws, ws, width // ws, ws).permute(0, 2, 1, 3).reshape(-1, ws * ws)
    return (windows[:, :, None] != windows[:, None, :]).float() * -100.0


class WindowAttention(nn.Module):
    def __init__(self, dim, ws, heads):
        super().__init__()
        self.ws, self.heads = ws, heads
        self.relative_position_bias_table = nn.Parameter(torch.randn((2 * ws - 1) ** 2, heads) * 0.02)
        self.register_buffer("relative_position_index", relative_position_index(ws))
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, windows, mask=None):
        nb, n, c = windows.shape
        nw = 1 if mask is None else mask.shape[0]
        qkv = self.qkv(windows).reshape(nb // nw, nw, n, 3, self.heads, c // self.heads).permute(3, 0, 1, 4, 2, 5)
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)].reshape(n, n, self.heads).permute(2, 0, 1)
        if mask is not None:
            bias = bias + mask.unsqueeze(1)  # [nW, heads, n, n]
        out = attention(qkv[0], qkv[1], qkv[2], bias)  # [B, nW, heads, n, d]
        return self.proj(out.permute(0, 1, 3, 2, 4).reshape(nb, n, c))


class SwinBlock(nn.Module):
    def __init__(self, dim, heads, ws, shift):
        super().__init__()
        self.ws, self.shift = ws, shift
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, ws, heads)
        self.mlp = Mlp(dim, 4 * dim)
        self._masks = {}

    def forward(self, x):
        b, h, w, c = x.shape
        ws, s = self.ws, self.shift
        y = self.norm1(x)
        if s:
            y = torch.roll(y, (-s, -s), (1, 2))
        windows = y.reshape(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)
        mask = None
        if s:
            mask = self._masks.get((h, w))
            if mask is None:
                mask = self._masks[(h, w)] = shift_mask(h, w, ws, s)
        y = self.attn(windows, mask).reshape(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
        if s:
            y = torch.roll(y, (s, s), (1, 2))
        x = x + y
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.reduction, self.norm = nn.Linear(4 * dim, 2 * dim, bias=False), nn.LayerNorm(4 * dim)

    def forward(self, x):
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x))


class SwinTransformer(nn.Module):
    """Tessera's SwinTransformer: every stage's output is normalised (norm0.., norm), as its Forward does."""

    def __init__(self, patch, dim, depths, heads, ws, classes):
        super().__init__()
        self.patch_proj, self.patch_norm = nn.Conv2d(3, dim, patch, patch), nn.LayerNorm(dim)
        self.stages, self.merges, self.norms = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i, (depth, h) in enumerate(zip(depths, heads)):
            self.stages.append(nn.ModuleList(SwinBlock(dim, h, ws, 0 if j % 2 == 0 else ws // 2) for j in range(depth)))
            self.norms.append(nn.LayerNorm(dim))
            if i < len(depths) - 1:
                self.merges.append(PatchMerging(dim))
                dim *= 2
        self.head = nn.Linear(dim, classes)

    def forward(self, images):
        x = self.patch_norm(self.patch_proj(images).permute(0, 2, 3, 1))
        for i, blocks in enumerate(self.stages):
            for block in blocks:
                x = block(x)
            feature = self.norms[i](x)  # the inner stages' features are computed (and unused) as in Tessera
            if i < len(self.merges):
                x = self.merges[i](x)
        return self.head(feature.mean((1, 2)))


# --- Text tower with an MLM head (src/Models/Nn/Text/TextTransformer.cs + INTERN's "mlm" Linear) ---

class TextMlm(nn.Module):
    def __init__(self, vocab, context, width, depth, heads):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.position_embedding = nn.Parameter(torch.randn(1, context, width) * 0.01)
        self.blocks = nn.ModuleList(VitBlock(width, heads) for _ in range(depth))
        self.ln_final = nn.LayerNorm(width)
        self.mlm = nn.Linear(width, vocab)

    def forward(self, tokens):
        padding = tokens == 0  # Pad = 0: ignored as keys
        x = self.token_embedding(tokens) + self.position_embedding[:, :tokens.shape[1]]
        for block in self.blocks:
            x = block(x, key_padding_mask=padding)
        return self.mlm(self.ln_final(x))


# --- EVA student (src/Models/Systems/Eva/EvaStudent.cs) ---

class EvaStudent(nn.Module):
    """Plain ViT without cls token (mean pooling), mask token before positions, Linear head to the teacher width."""

    def __init__(self, image, patch, width, depth, heads, target, drop_path):
        super().__init__()
        grid = image // patch
        self.proj = nn.Conv2d(3, width, patch, patch)
        self.pos_embed = nn.Parameter(torch.randn(1, grid * grid, width) * 0.02)
        self.blocks = nn.ModuleList(VitBlock(width, heads, drop_path * i / max(1, depth - 1)) for i in range(depth))
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.mask_token = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.head = nn.Linear(width, target)

    def loss(self, images, targets, mask):
        x = self.proj(images).flatten(2).transpose(1, 2)
        w = mask.unsqueeze(2)
        x = x * (1 - w) + self.mask_token * w + self.pos_embed
        for block in self.blocks:
            x = block(x)
        cosine = F.cosine_similarity(self.head(self.norm(x)), targets, dim=-1)
        return -(cosine * mask).sum() / mask.sum()


def decay_groups(model, weight_decay):
    """EvaStages.CreateOptimizer's split: matrices decay, vectors and the tokens/positions do not."""
    decayed, kept = [], []
    for name, p in model.named_parameters():
        (decayed if p.dim() >= 2 and name.split(".")[-1] not in ("pos_embed", "cls_token", "mask_token") else kept).append(p)
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": kept, "weight_decay": 0.0}]


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def fixed_mask(batch, tokens, ratio):
    """[batch, tokens] 0/1 floats: round(ratio·tokens) scattered ones per row (37 is prime to the token count, so
    (37·i + 11·b) mod tokens runs over every residue once). TrainStepModels.FixedMask is the same formula."""
    count = int(round(ratio * tokens))
    return torch.tensor([[1.0 if (37 * i + 11 * b) % tokens < count else 0.0 for i in range(tokens)] for b in range(batch)])


def bench_tokens(batch, length, vocab):
    """Caption-like token rows: Begin (1), words in [4, vocab), End (2), then Pad (0); row b has 12 + b % 17 words."""
    rows = []
    for b in range(batch):
        words = min(length - 2, 12 + b % 17)
        row = [1] + [4 + (b * 31 + i * 7) % (vocab - 4) for i in range(words)] + [2]
        rows.append(row + [0] * (length - len(row)))
    return torch.tensor(rows, dtype=torch.long)


def mlm_targets(tokens):
    """−100 except every 7th word position (≈15% of the words), where the target is the word itself."""
    targets = torch.full_like(tokens, -100)
    for b in range(tokens.shape[0]):
        for i in range(tokens.shape[1]):
            if tokens[b, i] >= 4 and (i + b) % 7 == 0:
                targets[b, i] = tokens[b, i]
    return targets



# --- HVP-MTL (src/Models/Systems/HvpMtl: HvpMtlModel, Query2LabelHead, Swav, SimMim, HvpMtlPretrainer.Step) ---

class HvpVit(nn.Module):
    """The HVP backbone: Tessera's VisionTransformer with mean pooling, no cls token and no head."""

    def __init__(self, image, patch, width, depth, heads):
        super().__init__()
        self.proj = nn.Conv2d(3, width, patch, patch)
        self.pos_embed = nn.Parameter(torch.randn(1, (image // patch) ** 2, width) * 0.02)
        self.blocks = nn.ModuleList(VitBlock(width, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(width, eps=1e-6)

    def forward(self, images, mask=None, mask_token=None):
        x = self.proj(images).flatten(2).transpose(1, 2)
        if mask is not None:
            w = mask.unsqueeze(2)
            x = x * (1 - w) + mask_token * w
        x = x + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class LabelDecoderLayer(nn.Module):
    """Post-norm decoder layer (nn.TransformerDecoderLayer's computation, ReLU, no dropout)."""

    def __init__(self, dim, heads, feed_forward):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.multihead_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.linear1, self.linear2 = nn.Linear(dim, feed_forward), nn.Linear(feed_forward, dim)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, x, memory):
        x = self.norm1(x + self.self_attn(x, x, x, need_weights=False)[0])
        x = self.norm2(x + self.multihead_attn(x, memory, memory, need_weights=False)[0])
        return self.norm3(x + self.linear2(F.relu(self.linear1(x))))


class Query2Label(nn.Module):
    def __init__(self, channels, classes, dim, layers, heads):
        super().__init__()
        self.input_proj = nn.Linear(channels, dim)
        self.query_embed = nn.Parameter(torch.randn(classes, dim))
        self.layers = nn.ModuleList(LabelDecoderLayer(dim, heads, 2 * dim) for _ in range(layers))
        self.fc_weight = nn.Parameter(torch.randn(classes, dim) * dim ** -0.5)
        self.fc_bias = nn.Parameter(torch.zeros(classes))

    def forward(self, tokens):
        memory = self.input_proj(tokens)
        x = self.query_embed.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        for layer in self.layers:
            x = layer(x, memory)
        return (x * self.fc_weight.unsqueeze(0)).sum(2) + self.fc_bias.unsqueeze(0), x


class HvpEncoder(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.backbone = HvpVit(s["image"], s["patch"], s["width"], s["depth"], s["heads"])
        self.query2label = Query2Label(s["width"], s["classes"], s["decoder_dim"], s["decoder_layers"], 2)


class HvpMtl(nn.Module):
    """The student: encoder (ViT + Query2Label), SwAV head (fc1, fc2, prototypes), SimMIM (mask token, 1×1 projection)."""

    def __init__(self, s):
        super().__init__()
        self.encoder = HvpEncoder(s)
        w = s["width"]
        self.swav_fc1, self.swav_fc2 = nn.Linear(w, 2 * w), nn.Linear(2 * w, s["projection"])
        self.prototypes = nn.Parameter(F.normalize(torch.randn(s["prototypes"], s["projection"]), dim=1))
        self.mim_token = nn.Parameter(torch.randn(1, 1, w) * 0.02)
        self.mim_proj = nn.Linear(w, s["patch"] ** 2 * 3)

    def project(self, pooled):
        return F.normalize(self.swav_fc2(F.gelu(self.swav_fc1(pooled))), dim=1)


# HvpMtlSettings' defaults
HVP = dict(image=32, patch=4, width=48, depth=3, heads=4, classes=12, decoder_dim=32, decoder_layers=1, prototypes=24, projection=32,
           batch=32, swav_temperature=0.1, epsilon=0.05, iterations=3, clamp=10.0, mask_ratio=0.6, mask_block=8, momentum=0.995,
           distill_temperature=0.1, weights=(0.001, 0.02, 1.0, 10.0), lr=1e-3, weight_decay=0.05)


def weighted_asl(logits, targets, eta=10.0, gamma_pos=4.0, gamma_neg=1.0):
    p = torch.sigmoid(logits)
    positive = torch.log(p.clamp(min=1e-8)) * (1 - p) ** gamma_pos * eta
    negative = torch.log((1 - p).clamp(min=1e-8)) * p ** gamma_neg
    return -(targets * positive + (1 - targets) * negative).sum()


def similarities(embeddings, labels, temperature):
    return torch.log_softmax(F.normalize(embeddings, dim=1) @ F.normalize(labels, dim=1).t() / temperature, dim=1)


def symmetric_kl(student, teacher):
    teacher = teacher.detach()
    d = student - teacher
    return ((student.exp() * d).sum(1) + (teacher.exp() * -d).sum(1)).mean() * 0.5


@torch.no_grad()
def sinkhorn(scores, epsilon, iterations, clamp):
    q = torch.exp((scores / epsilon).clamp(max=clamp)).t()
    q = q / q.sum()
    k, b = q.shape
    for _ in range(iterations):
        q = q / q.sum(1, keepdim=True) / k
        q = q / q.sum(0, keepdim=True) / b
    return (q * b).t().contiguous()


def swav_swapped(scores_t, scores_s, s):
    codes_t = sinkhorn(scores_t, s["epsilon"], s["iterations"], s["clamp"])
    codes_s = sinkhorn(scores_s, s["epsilon"], s["iterations"], s["clamp"])
    ce = lambda scores, codes: -(codes * torch.log_softmax(scores / s["swav_temperature"], dim=1)).sum(1).mean()  # noqa: E731
    return ce(scores_t, codes_s) + ce(scores_s, codes_t)


def aligned_mask(batch, grid, ratio, block):
    """SimMIM's block-aligned masks [batch, grid²]: round(ratio·units) random units of block×block patches (PatchMasking.Aligned)."""
    units_side = grid // block
    units = units_side * units_side
    masked = int(round(ratio * units))
    chosen = torch.stack([torch.randperm(units)[:masked] for _ in range(batch)])
    unit_mask = torch.zeros(batch, units).scatter_(1, chosen, 1.0).reshape(batch, units_side, 1, units_side, 1)
    return unit_mask.expand(batch, units_side, block, units_side, block).reshape(batch, grid * grid)


def hvp_step_factory(s=HVP):
    """The model, its optimiser and one HvpMtlPretrainer.Step on fixed views and tags."""
    model = HvpMtl(s)
    teacher = HvpEncoder(s)
    teacher.load_state_dict(model.encoder.state_dict())
    for p in teacher.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=s["lr"], weight_decay=s["weight_decay"])
    b, size, grid = s["batch"], s["image"], s["image"] // s["patch"]
    view1, view2 = torch.randn(b, 3, size, size), torch.randn(b, 3, size, size)
    tags = torch.tensor([1.0 if i * 5 % 7 < 2 else 0.0 for i in range(b * s["classes"])]).reshape(b, s["classes"])
    a1, a2, a3, a4 = s["weights"]
    p = s["patch"]

    def step():
        with torch.no_grad():
            model.prototypes.copy_(F.normalize(model.prototypes, dim=1))
        optimizer.zero_grad()
        vit, q2l = model.encoder.backbone, model.encoder.query2label
        tokens1 = vit(view1)
        logits, states = q2l(tokens1)
        ml = weighted_asl(logits, tags)
        student = similarities(states.mean(1), q2l.query_embed, s["distill_temperature"])
        with torch.no_grad():
            _, teacher_states = teacher.query2label(teacher.backbone(view1))
            target = similarities(teacher_states.mean(1), teacher.query2label.query_embed, s["distill_temperature"])
        mom = symmetric_kl(student, target)
        mask = aligned_mask(b, grid, s["mask_ratio"], s["mask_block"] // p)
        tokens2 = vit(view2, mask, model.mim_token)
        reconstruction = model.mim_proj(tokens2).reshape(b, grid, grid, 3, p, p).permute(0, 3, 1, 4, 2, 5).reshape(b, 3, size, size)
        pixel_mask = mask.reshape(b, 1, grid, 1, grid, 1).expand(b, 1, grid, p, grid, p).reshape(b, 1, size, size)
        mim = ((reconstruction - view2).abs() * pixel_mask).sum() / (pixel_mask.sum() + 1e-5) / 3
        scores_t = model.project(tokens1.mean(1)) @ model.prototypes.t()
        scores_s = model.project(tokens2.mean(1)) @ model.prototypes.t()
        cl = swav_swapped(scores_t, scores_s, s)
        total = a1 * ml + a2 * cl + a3 * mim + a4 * mom
        [t.item() for t in (ml, cl, mim, mom, total)]  # the trainer reads each loss (finite check, curves)
        total.backward()
        optimizer.step()
        with torch.no_grad():
            for t, st in zip(teacher.parameters(), model.encoder.parameters()):
                t.mul_(s["momentum"]).add_(st, alpha=1 - s["momentum"])
    return model, step
