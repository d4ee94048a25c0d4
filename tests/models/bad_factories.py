"""Factories used by the tests: good ones, broken ones, and one with an op ONNX lacks."""

import torch
from torch import nn


def raises():
    raise RuntimeError("weights file missing")


def not_a_module():
    return {"weights": [1, 2, 3]}


class Eigen(nn.Module):
    def forward(self, x):
        return torch.linalg.eigvals(x).real


def eigen():
    return Eigen(), (torch.randn(2, 4, 4),)


def small_cnn():
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    )
    return m.eval(), (torch.randn(2, 3, 16, 16),)


def tiny_bert():
    """A Hugging Face BERT (random weights, tiny config): a real text-model architecture."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    return BertModel(cfg).eval()
