"""Torch wrappers around a transformers model: positional named inputs, named tensor outputs.

Exporters see a plain forward(input_ids, attention_mask, ...) returning tensors in a fixed
order, so every format gets the same input and output names; a sentence-transformers
folder's pooling and normalisation run inside the wrapper.
"""

from __future__ import annotations

import torch


class _HFModule(torch.nn.Module):
    input_names: tuple[str, ...] = ()

    def __init__(self, model, outputs: list[str], pooling: dict | None):
        super().__init__()
        self.model = model
        self.outputs = list(outputs)
        self.pooling = pooling

    def _run(self, **kwargs):
        out = self.model(**kwargs, return_dict=True)
        if self.pooling:
            emb = _pool(out.last_hidden_state, kwargs.get("attention_mask"), self.pooling["mode"])
            if self.pooling["normalize"]:
                emb = torch.nn.functional.normalize(emb, p=2, dim=1)
            return emb
        values = tuple(out[name] for name in self.outputs)
        return values[0] if len(values) == 1 else values


def _pool(hidden, mask, mode: str):
    if mask is None:
        mask = torch.ones(hidden.shape[:2], dtype=hidden.dtype, device=hidden.device)
    m = mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "cls_token":
        return hidden[:, 0]
    if mode == "max_tokens":
        return torch.where(m > 0, hidden, torch.finfo(hidden.dtype).min).max(dim=1).values
    summed = (hidden * m).sum(dim=1)
    counts = m.sum(dim=1).clamp(min=1e-9)
    return summed / (counts.sqrt() if mode == "mean_sqrt_len_tokens" else counts)


class Ids(_HFModule):
    input_names = ("input_ids",)

    def forward(self, input_ids):
        return self._run(input_ids=input_ids)


class IdsMask(_HFModule):
    input_names = ("input_ids", "attention_mask")

    def forward(self, input_ids, attention_mask):
        return self._run(input_ids=input_ids, attention_mask=attention_mask)


class IdsTypes(_HFModule):
    input_names = ("input_ids", "token_type_ids")

    def forward(self, input_ids, token_type_ids):
        return self._run(input_ids=input_ids, token_type_ids=token_type_ids)


class IdsMaskTypes(_HFModule):
    input_names = ("input_ids", "attention_mask", "token_type_ids")

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self._run(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )


class Pixels(_HFModule):
    input_names = ("pixel_values",)

    def forward(self, pixel_values):
        return self._run(pixel_values=pixel_values)


WRAPPERS = {cls.input_names: cls for cls in (Ids, IdsMask, IdsTypes, IdsMaskTypes, Pixels)}


def wrap(model, input_names: list[str], outputs: list[str], pooling: dict | None):
    cls = WRAPPERS.get(tuple(input_names))
    if cls is None:
        from edgeopt.errors import UsageError

        raise UsageError(
            f"unsupported input combination {input_names}",
            "the model should take input_ids (with attention_mask/token_type_ids) or pixel_values",
        )
    return cls(model, outputs, pooling).eval()
