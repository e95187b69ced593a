"""The architectures of App. I.3, plus a small CNN for the CPU profiles; one registry by name.

All take ``(num_classes, width)``; ``width=64`` gives the paper's sizes for every architecture:

- ``resnet18``: ResNet-18 for CIFAR (3x3 stride-1 stem, no max-pool), channels w, 2w, 4w, 8w.
- ``mlp``: 4 layers Linear-ReLU-BN (the last without BN), then a linear classifier; hidden widths
  16w, 8w, 4w, 2w (1024, 512, 256, 128 at w=64; the paper's Tab. 2 widths were lost in extraction).
- ``vit``: 4x4 patches, no dropout, BatchNorm instead of LayerNorm, width 4w (256), MLP width 4w
  (256), 6 blocks, 4 heads, class token to a linear classifier.
- ``cnn`` (ours, not in the paper): 3 stages of conv-BN-ReLU-pool, channels w, 2w, 4w; a model
  small enough to train in seconds on 2 CPU cores.

Every model ends in ``self.fc`` (the classifier), so the discovery encoder is the same backbone
with ``num_classes = d`` (Sec. 4.4). Init is PyTorch's default Kaiming-uniform (App. I.3).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, num_classes=2, width=64):
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        layers, cin = [], w
        for cout, stride in [(w, 1), (2 * w, 2), (4 * w, 2), (8 * w, 2)]:
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(8 * w, num_classes)

    def forward(self, x):                          # x: (B,3,32,32)
        h = self.layers(self.stem(x))              # (B,8w,4,4)
        return self.fc(h.mean(dim=(2, 3)))         # global average pool -> (B,8w) -> (B,K)


class MLP(nn.Module):
    def __init__(self, num_classes=2, width=64, in_dim=3 * 32 * 32):
        super().__init__()
        dims = [in_dim, 16 * width, 8 * width, 4 * width, 2 * width]
        blocks = []
        for i in range(4):
            blocks += [nn.Linear(dims[i], dims[i + 1]), nn.ReLU()]
            if i < 3:
                blocks.append(nn.BatchNorm1d(dims[i + 1]))
        self.body = nn.Sequential(*blocks)
        self.fc = nn.Linear(dims[-1], num_classes)

    def forward(self, x):                          # x: (B,3,32,32)
        return self.fc(self.body(x.flatten(1)))    # (B,3072) -> (B,K)


class TokenBN(nn.Module):
    """BatchNorm over the channel dim of a token sequence (replaces LayerNorm, App. I.3)."""

    def __init__(self, dim):
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, x):                          # x: (B,T,C)
        b, t, c = x.shape
        return self.bn(x.reshape(b * t, c)).reshape(b, t, c)


class ViTBlock(nn.Module):
    def __init__(self, dim, heads, mlp_dim):
        super().__init__()
        self.norm1, self.norm2 = TokenBN(dim), TokenBN(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))
        self.heads = heads

    def forward(self, x):                          # x: (B,T,C)
        b, t, c = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)       # each (B,H,T,C/H)
        a = F.scaled_dot_product_attention(q, k, v)           # (B,H,T,C/H)
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, num_classes=2, width=64, depth=6, heads=4, patch=4, image=32):
        super().__init__()
        dim = 4 * width
        self.patch = nn.Conv2d(3, dim, patch, patch)                 # 4x4 patches
        n_tokens = (image // patch) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, n_tokens + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[ViTBlock(dim, heads, dim) for _ in range(depth)])
        self.norm = TokenBN(dim)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x):                          # x: (B,3,32,32)
        h = self.patch(x).flatten(2).transpose(1, 2)               # (B,64,dim)
        h = torch.cat([self.cls.expand(len(h), -1, -1), h], 1) + self.pos   # (B,65,dim)
        h = self.norm(self.blocks(h))
        return self.fc(h[:, 0])                    # class token -> (B,K)


class SmallCNN(nn.Module):
    def __init__(self, num_classes=2, width=16):
        super().__init__()
        w, layers, cin = width, [], 3
        for cout in (w, 2 * w, 4 * w):
            layers += [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                       nn.MaxPool2d(2)]
            cin = cout
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(4 * w, num_classes)

    def forward(self, x):                          # x: (B,3,32,32)
        return self.fc(self.body(x).mean(dim=(2, 3)))   # (B,4w,4,4) -> (B,4w) -> (B,K)


MODELS = {"resnet18": ResNet18, "mlp": MLP, "vit": ViT, "cnn": SmallCNN}


def build_model(arch: str, num_classes: int = 2, width: int = 64) -> nn.Module:
    """Build an architecture by name with PyTorch's default init (seed it beforehand)."""
    if arch not in MODELS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(MODELS)}")
    return MODELS[arch](num_classes=num_classes, width=width)


LAYOUT = {   # App. I.3 / Tab. 2 in words, per architecture (w = width)
    "resnet18": "3x3 stride-1 stem, no max-pool; 4 stages of 2 basic blocks, channels w, 2w, 4w, 8w; "
                "global average pool; linear classifier",
    "mlp": "flattened 3x32x32 image; 4 Linear-ReLU-BN layers (the last without BN), widths 16w, 8w, 4w, 2w; "
           "linear classifier",
    "vit": "4x4 patches to tokens of width 4w; class token; 6 blocks (4 heads, MLP width 4w, BatchNorm instead "
           "of LayerNorm, no dropout); class token to a linear classifier",
    "cnn": "(ours, not in the paper) 3 stages of 3x3 conv-BN-ReLU-max-pool, channels w, 2w, 4w; global "
           "average pool; linear classifier",
}


def describe(arch: str, width: int, num_classes: int = 2) -> dict:
    """Tab. 2 (App. I.3) for one architecture at ``width``: its layout in words, its parameters and the
    multiply-accumulates of one forward pass of a 32x32 image (counted with
    ``torch.utils.flop_counter``: matrix products and convolutions, MACs = FLOPs / 2)."""
    from torch.utils.flop_counter import FlopCounterMode
    torch.manual_seed(0)
    model = build_model(arch, num_classes, width).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(torch.zeros(1, 3, 32, 32))
    return {"layout": LAYOUT[arch],
            "width": width, "parameters": sum(p.numel() for p in model.parameters()),
            "mmacs": fc.get_total_flops() / 2 / 1e6}
