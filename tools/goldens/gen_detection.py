"""Detection components against torchvision 0.14, and COCO box AP against a direct reference.

anchors:  torchvision AnchorGenerator on one and two feature levels.
matcher:  torchvision Matcher (with and without low-quality matches) on box_iou matrices.
fastrcnn: torchvision's fastrcnn_loss (classifier cross entropy + smooth L1 on positives), with grads.
coco_map: pycocotools is not installed, so coco_ap below re-implements COCOeval.evaluate +
          accumulate (bbox, area "all", maxDets 100, no crowd) line by line with numpy.
"""
import numpy as np
import torch
from torchvision.models.detection._utils import Matcher
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import fastrcnn_loss
from torchvision.ops import box_iou

from common import Family, seeded


def anchors(sizes, ratios, image_size, feature_sizes):
    generator = AnchorGenerator(tuple(tuple(s) for s in sizes), tuple(tuple(r) for r in ratios))
    images = ImageList(torch.zeros(1, 3, *image_size), [tuple(image_size)])
    features = [torch.zeros(1, 4, *f) for f in feature_sizes]
    return generator(images, features)[0]


def random_boxes(g, count, extent, min_side=4.0, max_side=24.0):
    xy = torch.rand(count, 2, generator=g) * extent
    wh = min_side + torch.rand(count, 2, generator=g) * (max_side - min_side)
    return torch.cat([xy, xy + wh], 1)


def coco_ap(images, class_ids, max_dets=100):
    """images: list of (det_boxes [D,4], det_scores [D], det_labels [D], gt_boxes [G,4], gt_labels [G]) numpy arrays."""
    iou_thrs = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
    rec_thrs = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
    T, R, K = len(iou_thrs), len(rec_thrs), len(class_ids)
    precision = -np.ones((T, R, K))

    def iou(d, g):
        out = np.zeros((len(d), len(g)))
        for i, a in enumerate(d):
            for j, b in enumerate(g):
                w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
                h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
                inter = w * h
                union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
                out[i, j] = inter / union if union > 0 else 0.0
        return out

    for k, c in enumerate(class_ids):
        evals = []
        for db, ds, dl, gb, gl in images:
            g = gb[gl == c].astype(np.float64)
            d = db[dl == c].astype(np.float64)
            s = ds[dl == c]
            if len(g) == 0 and len(d) == 0:
                continue
            order = np.argsort(-s, kind="mergesort")
            d, s = d[order][:max_dets], s[order][:max_dets]
            ious = iou(d, g)
            dtm = np.zeros((T, len(d)))
            for t, thr in enumerate(iou_thrs):
                gtm = np.zeros(len(g))
                for di in range(len(d)):
                    best = min([thr, 1 - 1e-10])
                    m = -1
                    for gi in range(len(g)):
                        if gtm[gi] > 0:
                            continue
                        if ious[di, gi] < best:
                            continue
                        best = ious[di, gi]
                        m = gi
                    if m == -1:
                        continue
                    dtm[t, di] = 1
                    gtm[m] = 1
            evals.append((s, dtm, len(g)))
        if not evals:
            continue
        scores = np.concatenate([e[0][0:max_dets] for e in evals])
        inds = np.argsort(-scores, kind="mergesort")
        dtm = np.concatenate([e[1][:, 0:max_dets] for e in evals], axis=1)[:, inds]
        npig = sum(e[2] for e in evals)
        if npig == 0:
            continue
        tps = dtm == 1
        fps = dtm == 0
        tp_sum = np.cumsum(tps, axis=1).astype(dtype=float)
        fp_sum = np.cumsum(fps, axis=1).astype(dtype=float)
        for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
            tp = np.array(tp)
            fp = np.array(fp)
            nd = len(tp)
            rc = tp / npig
            pr = tp / (fp + tp + np.spacing(1))
            q = np.zeros((R,))
            pr = pr.tolist()
            q = q.tolist()
            for i in range(nd - 1, 0, -1):
                if pr[i] > pr[i - 1]:
                    pr[i - 1] = pr[i]
            inds_r = np.searchsorted(rc, rec_thrs, side="left")
            try:
                for ri, pi in enumerate(inds_r):
                    q[ri] = pr[pi]
            except IndexError:
                pass
            precision[t, :, k] = np.array(q)

    def mean_valid(p):
        v = p[p > -1]
        return float(np.mean(v)) if v.size else float("nan")

    per_class = [mean_valid(precision[:, :, k]) for k in range(K)]
    return mean_valid(precision), mean_valid(precision[0]), mean_valid(precision[5]), per_class


def coco_case(fam, name, seed, image_count, class_count, tie_scores):
    g = seeded(seed)
    per_image = []
    rows = {k: [] for k in ["det_boxes", "det_scores", "det_labels", "det_image", "gt_boxes", "gt_labels", "gt_image"]}
    for n in range(image_count):
        gt_count = int(torch.randint(0, 5, (1,), generator=g))
        gb = random_boxes(g, gt_count, 64.0, 10.0, 30.0)
        gl = torch.randint(1, class_count + 1, (gt_count,), generator=g)
        # Detections: jittered copies of ground truth (some duplicated) plus random false positives.
        copies = gb.repeat(2, 1)[: int(gt_count * 1.5)]
        copy_labels = gl.repeat(2)[: len(copies)]
        jitter = torch.randn(copies.shape, generator=g) * 1.5
        db = torch.cat([copies + jitter, random_boxes(g, 3, 64.0)])
        db = torch.stack([torch.minimum(db[:, 0], db[:, 2] - 1), torch.minimum(db[:, 1], db[:, 3] - 1), db[:, 2], db[:, 3]], 1)
        dl = torch.cat([copy_labels, torch.randint(1, class_count + 1, (3,), generator=g)])
        ds = torch.rand(len(db), generator=g)
        if tie_scores:
            ds = torch.round(ds * 4) / 4
        per_image.append((db.numpy(), ds.numpy(), dl.numpy(), gb.numpy(), gl.numpy()))
        rows["det_boxes"].append(db); rows["det_scores"].append(ds); rows["det_labels"].append(dl)
        rows["det_image"].append(torch.full((len(db),), n, dtype=torch.int64))
        rows["gt_boxes"].append(gb); rows["gt_labels"].append(gl); rows["gt_image"].append(torch.full((gt_count,), n, dtype=torch.int64))
    inputs = {k: torch.cat(v) for k, v in rows.items()}
    classes = sorted(set(int(c) for c in inputs["gt_labels"]))
    mean, ap50, ap75, per_class = coco_ap(per_image, classes)
    result = torch.tensor([mean, ap50, ap75], dtype=torch.float64).float()
    fam.case(name, "coco_map", {"images": image_count, "classes": classes}, inputs,
             lambda **_: (result, torch.tensor(per_class, dtype=torch.float64).float()))


def build():
    fam = Family("detection")
    fam.case("anchors_one_level", "anchors", {"sizes": [[32, 64]], "ratios": [[0.5, 1.0, 2.0]], "image": [40, 56], "features": [[5, 7]]},
             {}, lambda: anchors([[32, 64]], [[0.5, 1.0, 2.0]], [40, 56], [[5, 7]]))
    fam.case("anchors_two_levels", "anchors", {"sizes": [[8, 11], [23]], "ratios": [[0.5, 1.0], [0.7, 1.3]], "image": [64, 48], "features": [[16, 12], [7, 6]]},
             {}, lambda: anchors([[8, 11], [23]], [[0.5, 1.0], [0.7, 1.3]], [64, 48], [[16, 12], [7, 6]]))
    for seed, (high, low, low_quality) in enumerate([(0.7, 0.3, True), (0.5, 0.5, False), (0.6, 0.2, False), (0.9, 0.4, True)]):
        g = seeded(100 + seed)
        gt = random_boxes(g, 5, 40.0, 6.0, 20.0)
        preds = torch.cat([random_boxes(g, 60, 40.0, 6.0, 20.0), gt[:2] + 0.5])
        quality = box_iou(gt, preds)
        matcher = Matcher(high, low, allow_low_quality_matches=low_quality)
        fam.case(f"matcher_{seed}", "matcher", {"high": high, "low": low, "low_quality": low_quality},
                 {"quality": quality}, lambda quality, m=matcher: m(quality), grad_inputs=[])
    for seed, (count, classes) in enumerate([(12, 3), (20, 5), (6, 2)]):
        g = seeded(200 + seed)
        labels = torch.randint(0, classes, (count,), generator=g)
        labels[0] = 1
        fam.case(f"fastrcnn_{seed}", "fastrcnn_loss", {},
                 {"class_logits": torch.randn(count, classes, generator=g), "box_regression": torch.randn(count, 4 * classes, generator=g) * 0.2,
                  "labels": labels, "regression_targets": torch.randn(count, 4, generator=g) * 0.2},
                 lambda class_logits, box_regression, labels, regression_targets:
                     fastrcnn_loss(class_logits, box_regression, [labels], [regression_targets]),
                 grad_inputs=["class_logits", "box_regression"])
    coco_case(fam, "coco_small", 300, 4, 2, False)
    coco_case(fam, "coco_ties", 301, 8, 3, True)
    coco_case(fam, "coco_many", 302, 20, 4, False)
    return fam


def full_model_case(fam, name, seed):
    """torchvision FasterRCNN end to end with every anchor and proposal sampled (batch sizes above
    the counts), so the losses are deterministic; identity transform (mean 0, std 1, no resize)."""
    from torch import nn
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.ops import MultiScaleRoIAlign

    g = seeded(seed)
    backbone = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU())
    backbone.out_channels = 8
    model = FasterRCNN(
        backbone, num_classes=None,
        rpn_anchor_generator=AnchorGenerator(((8, 16),), ((0.5, 1.0, 2.0),)),
        box_roi_pool=MultiScaleRoIAlign(["0"], output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(8 * 7 * 7, 32), box_predictor=FastRCNNPredictor(32, 3),
        min_size=32, max_size=32, image_mean=[0.0], image_std=[1.0],
        rpn_pre_nms_top_n_train=1000, rpn_post_nms_top_n_train=1000, rpn_pre_nms_top_n_test=1000, rpn_post_nms_top_n_test=1000,
        rpn_batch_size_per_image=100000, box_batch_size_per_image=100000, box_detections_per_img=1000)
    with torch.no_grad():
        # Larger RPN weights than torchvision's N(0, 0.01) so proposals move off the anchors.
        for p in model.rpn.parameters():
            p.normal_(0, 0.2, generator=g)
        # ... and a spread of class scores, so no two detections nearly tie.
        for p in model.roi_heads.parameters():
            p.normal_(0, 0.15, generator=g)
    images = torch.rand(2, 1, 32, 32, generator=g) * 0.2
    boxes = [torch.tensor([[4.0, 5.0, 15.0, 14.0], [18.0, 16.0, 30.0, 29.0]]), torch.tensor([[8.0, 2.0, 20.0, 22.0]])]
    labels = [torch.tensor([1, 2]), torch.tensor([2])]
    for n, bs in enumerate(boxes):
        for x1, y1, x2, y2 in bs.int().tolist():
            images[n, 0, y1:y2, x1:x2] += 0.8
    inputs = {"images": images, "boxes0": boxes[0], "labels0": labels[0], "boxes1": boxes[1], "labels1": labels[1]}
    for key, value in model.state_dict().items():
        inputs["p." + key.replace("rpn.head.conv.0.0.", "rpn.head.conv.")] = value.detach().clone()

    def run(**_):
        model.train()
        losses = model([images[0], images[1]], [{"boxes": boxes[n], "labels": labels[n]} for n in range(2)])
        model.eval()
        with torch.no_grad():
            detections = model([images[0], images[1]])
        out = [torch.stack([losses[k] for k in ["loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"]]).detach()]
        for d in detections:
            out += [d["boxes"], d["scores"], d["labels"]]
        return tuple(out)

    fam.case(name, "faster_rcnn", {}, inputs, run, grad_inputs=[])


_build_components = build


def build():
    fam = _build_components()
    full_model_case(fam, "faster_rcnn_0", 400)
    return fam
