"""nn modules against PyTorch: MultiheadAttention, BatchNorm2d running statistics, a Swin block
(window and shifted-window attention, reference implementation below), ResNet BasicBlock and
Bottleneck, FPN and ASPP (torchvision's), and a small ViT end to end.

Module weights are inputs named by their state-dict keys ("in.out_proj.weight"), so the C# test
loads them into its module with LoadStateDict and compares outputs and the gradients of the input
and of every weight. Updated buffers (running statistics) are extra outputs under their keys.
The "nn_reference" case stores no tensors: its args carry torchvision's ResNet-18 state-dict keys
and the parameter counts of reference configurations (ResNet-18, a Bottleneck block, a small ViT, a small Swin).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torch.nn.utils.stateless import functional_call
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.models.segmentation.deeplabv3 import ASPP

from common import Family, seeded


# ---- Swin reference (after microsoft/Swin-Transformer swin_transformer.py) ----

def window_partition(x, ws):
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, c)


def window_reverse(windows, ws, h, w):
    b = int(windows.shape[0] / (h * w / ws / ws))
    x = windows.view(b, h // ws, w // ws, ws, ws, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, w, -1)


def relative_position_index(ws):
    coords = torch.stack(torch.meshgrid([torch.arange(ws), torch.arange(ws)], indexing="ij"))
    flat = torch.flatten(coords, 1)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += ws - 1
    rel[:, :, 1] += ws - 1
    rel[:, :, 0] *= 2 * ws - 1
    return rel.sum(-1)


def shift_mask(h, w, ws, shift):
    img_mask = torch.zeros((1, h, w, 1))
    slices = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    cnt = 0
    for hs in slices:
        for wsl in slices:
            img_mask[:, hs, wsl, :] = cnt
            cnt += 1
    mw = window_partition(img_mask, ws).view(-1, ws * ws)
    mask = mw.unsqueeze(1) - mw.unsqueeze(2)
    return mask.masked_fill(mask != 0, float(-100.0)).masked_fill(mask == 0, float(0.0))


def swin_block(x, p, heads, ws, shift):
    """x [B, H, W, C] channels last; p: state-dict tensors of one block."""
    b, h, w, c = x.shape
    n = ws * ws
    shortcut = x
    y = F.layer_norm(x, (c,), p["norm1.weight"], p["norm1.bias"])
    if shift > 0:
        y = torch.roll(y, shifts=(-shift, -shift), dims=(1, 2))
    win = window_partition(y, ws).view(-1, n, c)
    bw = win.shape[0]
    qkv = F.linear(win, p["attn.qkv.weight"], p["attn.qkv.bias"]).reshape(bw, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    q = q * (c // heads) ** -0.5
    attn = q @ k.transpose(-2, -1)
    index = relative_position_index(ws)
    bias = p["attn.relative_position_bias_table"][index.view(-1)].view(n, n, -1).permute(2, 0, 1).contiguous()
    attn = attn + bias.unsqueeze(0)
    if shift > 0:
        mask = shift_mask(h, w, ws, shift)
        nw = mask.shape[0]
        attn = attn.view(bw // nw, nw, heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
        attn = attn.view(-1, heads, n, n)
    attn = attn.softmax(dim=-1)
    out = (attn @ v).transpose(1, 2).reshape(bw, n, c)
    out = F.linear(out, p["attn.proj.weight"], p["attn.proj.bias"])
    y = window_reverse(out.view(-1, ws, ws, c), ws, h, w)
    if shift > 0:
        y = torch.roll(y, shifts=(shift, shift), dims=(1, 2))
    x = shortcut + y
    z = F.layer_norm(x, (c,), p["norm2.weight"], p["norm2.bias"])
    z = F.linear(F.gelu(F.linear(z, p["mlp.fc1.weight"], p["mlp.fc1.bias"])), p["mlp.fc2.weight"], p["mlp.fc2.bias"])
    return x + z


def build():
    fam = Family("nn")
    g = seeded(11)

    def rn(*shape, scale=1.0):
        return torch.randn(tuple(shape), generator=g) * scale

    # ---- MultiheadAttention (batch_first) ----
    def mha_case(name, embed, heads, batch, lq, ls, self_attention, kpm=None, attn_mask=None):
        mha = nn.MultiheadAttention(embed, heads, batch_first=True)
        inputs = {"query": rn(batch, lq, embed)}
        if not self_attention:
            inputs["key"] = rn(batch, ls, embed)
            inputs["value"] = rn(batch, ls, embed)
        for key, value in mha.state_dict().items():
            inputs[key] = rn(*value.shape, scale=0.3)
        if kpm is not None:
            inputs["key_padding_mask"] = kpm
        if attn_mask is not None:
            inputs["attn_mask"] = attn_mask
        params = [k for k in mha.state_dict()]

        def fn(query, key=None, value=None, key_padding_mask=None, attn_mask=None, **weights):
            k = query if key is None else key
            v = query if value is None else value
            out, _ = functional_call(mha, {p: weights[p] for p in params}, (query, k, v),
                                     {"key_padding_mask": key_padding_mask, "attn_mask": attn_mask, "need_weights": False})
            return out

        fam.case(name, "multihead_attention", {"embed_dim": embed, "num_heads": heads, "self": self_attention}, inputs, fn,
                 grad_inputs=[k for k in inputs if k not in ("key_padding_mask", "attn_mask")])

    kpm = torch.tensor([[False, False, False, False, True], [False, False, False, True, True]])
    causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
    mha_case("mha_self_causal_padding", 16, 4, 2, 5, 5, True, kpm=kpm, attn_mask=causal)
    mha_case("mha_cross_float_mask", 12, 3, 2, 4, 6, False, attn_mask=rn(4, 6))
    per_head = torch.rand((2 * 2, 3, 4), generator=g) < 0.3
    per_head[:, :, 0] = False  # every query keeps key 0, so no row is fully masked
    mha_case("mha_cross_per_head_mask", 8, 2, 2, 3, 4, False, kpm=torch.tensor([[False, False, True, False], [False, False, False, False]]),
             attn_mask=per_head)
    mha_case("mha_self_plain", 8, 1, 3, 4, 4, True)

    # ---- BatchNorm2d: two training steps, then evaluation ----
    def bn_case(name, channels, momentum):
        inputs = {"x1": rn(4, channels, 3, 5) * 2 + 1, "x2": rn(3, channels, 4, 4) - 0.5, "x3": rn(2, channels, 2, 3),
                  "weight": rn(channels), "bias": rn(channels)}

        def fn(x1, x2, x3, weight, bias):
            bn = nn.BatchNorm2d(channels, momentum=momentum)
            with torch.no_grad():
                bn.weight.copy_(weight)
                bn.bias.copy_(bias)
            state = {"weight": weight, "bias": bias, "running_mean": bn.running_mean.clone(),
                     "running_var": bn.running_var.clone(), "num_batches_tracked": bn.num_batches_tracked.clone()}
            bn.train()
            y1 = functional_call(bn, state, (x1,))
            y2 = functional_call(bn, state, (x2,))
            bn.eval()
            y3 = functional_call(bn, state, (x3,))
            return {"y1": y1, "y2": y2, "y3": y3, "running_mean": state["running_mean"].clone(),
                    "running_var": state["running_var"].clone(), "num_batches_tracked": state["num_batches_tracked"].clone()}

        fam.case(name, "batch_norm2d", {"channels": channels, "momentum": momentum}, inputs, fn)

    bn_case("bn2d_momentum", 3, 0.1)
    bn_case("bn2d_cumulative", 4, None)

    # ---- Swin block: W-MSA and SW-MSA ----
    def swin_case(name, dim, heads, ws, shift, height, width, mlp_ratio=2):
        hidden = dim * mlp_ratio
        shapes = {"norm1.weight": (dim,), "norm1.bias": (dim,), "attn.relative_position_bias_table": ((2 * ws - 1) ** 2, heads),
                  "attn.qkv.weight": (3 * dim, dim), "attn.qkv.bias": (3 * dim,), "attn.proj.weight": (dim, dim), "attn.proj.bias": (dim,),
                  "norm2.weight": (dim,), "norm2.bias": (dim,), "mlp.fc1.weight": (hidden, dim), "mlp.fc1.bias": (hidden,),
                  "mlp.fc2.weight": (dim, hidden), "mlp.fc2.bias": (dim,)}
        inputs = {"x": rn(2, height, width, dim)}
        for key, shape in shapes.items():
            inputs[key] = rn(*shape, scale=0.3) + (1.0 if key.endswith("norm1.weight") or key.endswith("norm2.weight") else 0.0)

        def fn(x, **p):
            return {"y": swin_block(x, p, heads, ws, shift), "relative_position_index": relative_position_index(ws)}

        fam.case(name, "swin_block", {"dim": dim, "num_heads": heads, "window_size": ws, "shift_size": shift, "mlp_ratio": mlp_ratio}, inputs, fn)

    swin_case("swin_wmsa", 16, 2, 4, 0, 8, 8)
    swin_case("swin_swmsa", 16, 2, 4, 2, 8, 8)
    swin_case("swin_swmsa_rect", 8, 2, 4, 1, 8, 12)
    swin_case("swin_swmsa_ws3", 12, 3, 3, 1, 6, 9)

    # ---- ResNet BasicBlock ----
    def basic_case(name, in_ch, planes, stride, training):
        downsample = None
        if stride != 1 or in_ch != planes:
            downsample = nn.Sequential(nn.Conv2d(in_ch, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        block = BasicBlock(in_ch, planes, stride, downsample)
        params = dict(block.named_parameters())
        buffers = dict(block.named_buffers())
        inputs = {"x": rn(2, in_ch, 6, 6)}
        for key, value in params.items():
            inputs[key] = rn(*value.shape, scale=0.3) + (1.0 if key.endswith("bn1.weight") or key.endswith("bn2.weight") or key == "downsample.1.weight" else 0.0)
        for key, value in buffers.items():
            if key.endswith("running_mean"):
                inputs[key] = rn(*value.shape, scale=0.2)
            elif key.endswith("running_var"):
                inputs[key] = torch.rand(value.shape, generator=g) + 0.5
        block.train(training)

        def fn(x, **state):
            full = {k: (v.clone() if k in buffers else v) for k, v in state.items()}
            for key, value in buffers.items():
                if key.endswith("num_batches_tracked"):
                    full[key] = value.clone()
            y = functional_call(block, full, (x,))
            outs = {"y": y}
            if training:
                for key in buffers:
                    if not key.endswith("num_batches_tracked"):
                        outs[key] = full[key]
            return outs

        fam.case(name, "basic_block", {"in_channels": in_ch, "planes": planes, "stride": stride, "training": training}, inputs, fn,
                 grad_inputs=["x"] + list(params))

    basic_case("basic_downsample_train", 4, 8, 2, True)
    basic_case("basic_identity_eval", 6, 6, 1, False)

    # ---- torchvision modules whose state-dict names we share: Bottleneck, FPN, ASPP ----
    def module_case(name, op, args, module, inputs, training, call):
        params = dict(module.named_parameters())
        buffers = dict(module.named_buffers())
        for key, value in params.items():
            inputs[key] = rn(*value.shape, scale=0.3) + (1.0 if value.dim() == 1 and key.endswith("weight") else 0.0)  # BN scales near 1
        for key, value in buffers.items():
            if key.endswith("running_mean"):
                inputs[key] = rn(*value.shape, scale=0.2)
            elif key.endswith("running_var"):
                inputs[key] = torch.rand(value.shape, generator=g) + 0.5
        module.train(training)
        data = [k for k in inputs if k not in params and k not in buffers]

        def fn(**tensors):
            state = {k: (tensors[k].clone() if k in buffers else tensors[k]) for k in list(params) + [b for b in buffers if b in tensors]}
            for key, value in buffers.items():
                if key not in state:
                    state[key] = value.clone()
            outs = call(lambda *a: functional_call(module, state, a), *[tensors[k] for k in data])
            if training:
                for key in buffers:
                    if key.endswith("running_mean") or key.endswith("running_var"):
                        outs[key] = state[key]
            return outs

        fam.case(name, op, args, inputs, fn, grad_inputs=[k for k in data if inputs[k].dtype == torch.float32] + list(params))

    module_case("bottleneck_downsample_train", "bottleneck", {"in_channels": 8, "planes": 4, "stride": 2},
                Bottleneck(8, 4, 2, nn.Sequential(nn.Conv2d(8, 16, 1, 2, bias=False), nn.BatchNorm2d(16))),
                {"x": rn(2, 8, 6, 6)}, True, lambda run, x: {"y": run(x)})
    fpn_channels = [4, 8, 12]
    module_case("fpn_three_levels", "fpn", {"in_channels": fpn_channels, "out_channels": 6},
                torchvision.ops.FeaturePyramidNetwork(fpn_channels, 6),
                {"f0": rn(2, 4, 8, 10), "f1": rn(2, 8, 4, 5), "f2": rn(2, 12, 2, 3)}, False,
                lambda run, f0, f1, f2: {f"y{i}": v for i, v in enumerate(run({"0": f0, "1": f1, "2": f2}).values())})
    module_case("aspp_eval", "aspp", {"in_channels": 8, "rates": [1, 2], "out_channels": 6},
                ASPP(8, [1, 2], 6), {"x": rn(2, 8, 5, 6)}, False, lambda run, x: {"y": run(x)})

    # ---- a small ViT end to end (torchvision weights under our timm-style names) ----
    def vit_case(name, image, patch, layers, heads, dim, mlp, classes):
        vit = torchvision.models.VisionTransformer(image_size=image, patch_size=patch, num_layers=layers, num_heads=heads,
                                                   hidden_dim=dim, mlp_dim=mlp, num_classes=classes)
        ours = {}
        for key in vit.state_dict():
            mapped = (key.replace("class_token", "cls_token").replace("conv_proj", "patch_embed.proj")
                      .replace("encoder.pos_embedding", "pos_embed").replace("encoder.layers.encoder_layer_", "blocks.")
                      .replace("encoder.ln", "norm").replace("heads.head", "head").replace("ln_1", "norm1").replace("ln_2", "norm2")
                      .replace("self_attention", "attn").replace("mlp.0", "mlp.fc1").replace("mlp.3", "mlp.fc2"))
            ours[mapped] = key
        inputs = {"images": rn(2, 3, image, image)}
        for mapped, key in ours.items():
            inputs[mapped] = rn(*vit.state_dict()[key].shape, scale=0.3) + (1.0 if "norm" in mapped and mapped.endswith("weight") else 0.0)

        def fn(images, **weights):
            return functional_call(vit, {key: weights[mapped] for mapped, key in ours.items()}, (images,))

        fam.case(name, "vit", {"image_size": image, "patch_size": patch, "depth": layers, "num_heads": heads, "embed_dim": dim,
                               "mlp_ratio": mlp / dim, "num_classes": classes}, inputs, fn)

    vit_case("vit_tiny", 16, 4, 2, 2, 16, 32, 3)

    # ---- reference structure: state-dict keys and parameter counts ----
    def count(model):
        return sum(p.numel() for p in model.parameters())

    resnet18 = torchvision.models.resnet18()
    bottleneck = Bottleneck(64, 32, 2, nn.Sequential(nn.Conv2d(64, 128, 1, 2, bias=False), nn.BatchNorm2d(128)))
    vit = torchvision.models.VisionTransformer(image_size=32, patch_size=4, num_layers=3, num_heads=4, hidden_dim=64, mlp_dim=256, num_classes=10)
    swin = torchvision.models.swin_transformer.SwinTransformer(patch_size=[4, 4], embed_dim=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8],
                                                               window_size=[4, 4], num_classes=10)
    args = {"resnet18_keys": list(resnet18.state_dict().keys()), "resnet18_params": count(resnet18),
            "bottleneck_params": count(bottleneck), "vit_params": count(vit), "swin_params": count(swin)}
    fam.case("nn_reference", "reference", args, {}, lambda: {})
    return fam
