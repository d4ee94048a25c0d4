"""Architectures of the built-in reference models (weights live in weights/, see train.py).

Inputs are raw dataset values; normalisation is part of each model so an exported artifact
needs no separate preprocessing step.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class DigitsCNN(nn.Module):
    """A small CNN on 8x8 digit images (values 0..16), input [batch, 1, 8, 8]."""

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(),
            nn.Conv2d(4 * w, 4 * w, 3, padding=1),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * w, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x / 16.0)
        return self.classifier(torch.flatten(self.pool(x), 1))


class SelfAttention(nn.Module):
    """Plain multi-head self-attention from Linear layers: exports cleanly to every format."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q, k, v = (
            m(x).reshape(b, t, self.heads, self.head_dim).transpose(1, 2)
            for m in (self.q, self.k, self.v)
        )
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.head_dim), dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, t, self.heads * self.head_dim))


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.ff = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ff(self.norm2(x))


class DigitsTransformer(nn.Module):
    """A transformer encoder reading an 8x8 digit as a sequence of 8 rows, input [batch, 8, 8]."""

    def __init__(self, dim: int = 64, heads: int = 4, hidden: int = 128, layers: int = 2):
        super().__init__()
        self.embed = nn.Linear(8, dim)
        self.pos = nn.Parameter(torch.zeros(1, 8, dim))
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, hidden) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.embed(x / 16.0) + self.pos)
        return self.head(self.norm(h).mean(dim=1))


class TabularMLP(nn.Module):
    """An MLP on standardised tabular features; mean/std are buffers set from training data."""

    def __init__(self, features: int, classes: int, hidden: int = 64):
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("std", torch.ones(features))
        self.net = nn.Sequential(
            nn.Linear(features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)
