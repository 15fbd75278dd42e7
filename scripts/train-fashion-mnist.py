#!/usr/bin/python3
"""Train edgecnn's accuracy fixture: a small depthwise-separable CNN on Fashion-MNIST.

Reproducible: fixed seeds, single-threaded-deterministic CPU ops, a fixed number of epochs; it finishes in a few
minutes on 2 cores. Needs PyTorch (Debian: apt-get install -y python3-torch); it is a dev-only tool.

Input contract of the exported model (edgecnn's Fashion-MNIST reader applies the same, see
src/datasets/fashion-mnist.ts): input 'input' float32 [N, 1, 28, 28], pixel p in 0..255 mapped to
(p / 255 - 0.2860) / 0.3530; output 'output' float32 [N, 10] logits in the dataset's label order.

The network exercises what int8 quantization must handle: a dense stem conv, depthwise 3x3 (stride 1 and 2),
pointwise 1x1, ReLU and ReLU6 (Clip) clamps, a residual Add joining two branches, a Concat of two branches,
global average pooling and a Linear head. BatchNorm is kept in the exported file (edgecnn folds it).

Usage: /usr/bin/python3 scripts/train-fashion-mnist.py [--data ../shared/datasets/fashion-mnist]
                                               [--out fixtures/fashion-mnist-dsconv.onnx] [--epochs 3]
"""
import argparse
import gzip
import os
import random
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = 0.2860
STD = 0.3530
SEED = 20261127


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic == 0x803:
        n, rows, cols = struct.unpack(">III", data[4:16])
        return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows, cols)
    if magic == 0x801:
        (n,) = struct.unpack(">I", data[4:8])
        return np.frombuffer(data, dtype=np.uint8, offset=8).reshape(n)
    raise ValueError(f"{path}: bad IDX magic {magic:#x}")


def find_data(explicit):
    for d in [explicit, "../shared/datasets/fashion-mnist", "/usr/share/datasets/fashion-mnist"]:
        if d and os.path.exists(os.path.join(d, "train-images-idx3-ubyte.gz")):
            return d
    raise SystemExit("Fashion-MNIST not found: pass --data DIR (needs train-images-idx3-ubyte.gz etc.)")


def dw_block(cin, cout, stride, relu6=False):
    """Depthwise 3x3 + BN + act, pointwise 1x1 + BN + act."""
    act = nn.ReLU6 if relu6 else nn.ReLU
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        act(),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        act(),
    )


class DsConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.b1 = dw_block(16, 32, 2)  # 14x14
        self.b2 = dw_block(32, 32, 1, relu6=True)  # residual branch
        self.b3a = dw_block(32, 24, 2)  # 7x7, two branches joined by Concat
        self.b3b = nn.Sequential(nn.Conv2d(32, 24, 1, 2, bias=False), nn.BatchNorm2d(24), nn.ReLU())
        self.b4 = dw_block(48, 64, 1, relu6=True)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.stem(x)
        x = self.b1(x)
        x = x + self.b2(x)
        x = torch.cat([self.b3a(x), self.b3b(x)], dim=1)
        x = self.b4(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", default="fixtures/fashion-mnist-dsconv.onnx")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # one thread: OpenMP barriers stall badly on a busy machine

    d = find_data(args.data)
    xtr = read_idx(os.path.join(d, "train-images-idx3-ubyte.gz"))
    ytr = read_idx(os.path.join(d, "train-labels-idx1-ubyte.gz"))
    xte = read_idx(os.path.join(d, "t10k-images-idx3-ubyte.gz"))
    yte = read_idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz"))

    def prep(x):
        return torch.from_numpy(((x.astype(np.float32) / 255.0 - MEAN) / STD)[:, None, :, :].copy())

    xtr_t, xte_t = prep(xtr), prep(xte)
    ytr_t, yte_t = torch.from_numpy(ytr.astype(np.int64)), torch.from_numpy(yte.astype(np.int64))

    model = DsConvNet()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = args.epochs * ((len(xtr_t) + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(xtr_t), generator=gen)
        total = 0.0
        for i in range(0, len(perm), args.batch):
            idx = perm[i : i + args.batch]
            xb = xtr_t[idx]
            # Light augmentation: random horizontal flip (labels are flip-invariant for clothing).
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = F.cross_entropy(model(xb), ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            acc = sum((model(xte_t[i : i + 1000]).argmax(1) == yte_t[i : i + 1000]).sum().item() for i in range(0, 10000, 1000))
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / len(xtr_t):.4f}, test top-1 {acc / 100:.2f}% ({time.time() - t0:.0f} s)", flush=True)

    model.eval()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    torch.onnx.export(
        model,
        torch.zeros(1, 1, 28, 28),
        args.out,
        opset_version=13,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
        do_constant_folding=True,
        training=torch.onnx.TrainingMode.EVAL,
    )
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes); PyTorch fp32 test top-1 {acc / 100:.2f}%")


if __name__ == "__main__":
    main()
