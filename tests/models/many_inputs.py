"""A model with 12 inputs, each with its own value range, for input-order tests."""

import torch
from torch import nn

N_INPUTS = 12


class Scaled(nn.Module):
    """Output k is input k times k + 2: a mix-up of inputs shows as a wrong range."""

    def forward(self, *xs):
        return tuple(x * float(k + 2) for k, x in enumerate(xs))


def twelve_inputs():
    return Scaled(), tuple(torch.rand(2, 4) * (k + 1) * 10 for k in range(N_INPUTS))
