"""The nn~ variant: the contract of acids-ircam/nn_tilde, implemented here directly (its pip
package pins an old torch).

What nn~ reads from a TorchScript file (src/backend/backend.cpp there):
- ``get_methods()`` -> the usable method names; ``get_attributes()`` -> settable attributes;
- for each method a buffer ``<method>_params`` = [in_channels, in_ratio, out_channels,
  out_ratio]; the method takes [batch, in_channels, n / in_ratio] float32 and returns
  [batch, out_channels, n / out_ratio];
- ``<method>_input_labels`` / ``<method>_output_labels``: inlet and outlet names.

Methods here, each at one control ratio (one model call per ``ratio`` samples per inlet):
- ``decode``: 8 macro dials in [0, 1] -> N normalized parameters (other latent dims at the
  model's mean point), so ``nn~ NAME decode`` turns 8 signals into N parameter signals;
- ``decode_latent``: D latent coordinates -> N parameters;
- ``forward``: ``decode`` under the name nn~ uses when given no method (``[nn~ NAME]``).

The ratio must be a power of two: nn~ rounds its buffer up to one, so any other ratio leaves
a remainder and every call fails. nn~ runs the model one buffer behind: for its first buffer
every outlet is 0 (export/README.md says how to hold a synth until the first real frame).
"""

from __future__ import annotations

import json

import torch
from torch import nn

from bridge.exporting.module import ExportedFlowSynth
from bridge.models.saved import SavedModel


def check_ratio(ratio: int) -> int:
    """``ratio`` if nn~ can use it: a power of two (1, 2, 4, ... 256 ...)."""
    if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 1 \
            or ratio & (ratio - 1):
        lower = 1 << (max(int(ratio), 1).bit_length() - 1) if isinstance(ratio, int) else 256
        raise ValueError(f"--nn-ratio {ratio} is not a power of two; nn~ rounds its buffer up "
                         f"to a power of two, so every call would fail: use {lower} or "
                         f"{lower * 2}")
    return ratio


class NNTildeFlowSynth(nn.Module):
    def __init__(self, model: SavedModel, metadata: dict, ratio: int) -> None:
        super().__init__()
        check_ratio(ratio)
        self.core = ExportedFlowSynth(model, json.dumps({**metadata, "nn_tilde_ratio": ratio}))
        d, n, k = self.core.latent_dim, self.core.n_params, self.core.n_macros
        self.register_buffer("decode_params", torch.tensor([k, ratio, n, ratio]))
        self.register_buffer("decode_latent_params", torch.tensor([d, ratio, n, ratio]))
        self.register_buffer("forward_params", torch.tensor([k, ratio, n, ratio]))
        macro_names = metadata["macros"]["names"]
        outs = [f"(signal) {p}" for p in metadata["param_names"]]
        self.decode_input_labels = [f"(signal) macro {i + 1}: {m}" for i, m in
                                    enumerate(macro_names)]
        self.decode_output_labels = outs
        self.decode_latent_input_labels = [f"(signal) latent {i}" for i in range(d)]
        self.decode_latent_output_labels = list(outs)
        # `[nn~ NAME]` with no method asks for `forward`: the same as decode.
        self.forward_input_labels = list(self.decode_input_labels)
        self.forward_output_labels = list(outs)
        self._methods = ["decode", "decode_latent", "forward"]
        # No settable attributes; an empty list needs its type spelled out for TorchScript.
        self._attributes = torch.jit.Attribute([], list[str])

    @torch.jit.export
    def get_methods(self) -> list[str]:
        return self._methods

    @torch.jit.export
    def get_attributes(self) -> list[str]:
        return self._attributes

    @staticmethod
    def _points(x: torch.Tensor) -> torch.Tensor:
        # [B, C, T] -> [B*T, C]: every control frame is one point for the model.
        return x.permute(0, 2, 1).reshape(-1, x.shape[1]).to(torch.float32)

    def _frames(self, v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        b, t = like.shape[0], like.shape[2]
        return v.reshape(b, t, v.shape[1]).permute(0, 2, 1).contiguous()

    @torch.jit.export
    def decode(self, x: torch.Tensor) -> torch.Tensor:
        m = self._points(x)
        z = self.core.latent_from_macros(m, self.core.origin.expand(m.shape[0], -1))
        return self._frames(self.core.params_from_latent(z), x)

    @torch.jit.export
    def decode_latent(self, x: torch.Tensor) -> torch.Tensor:
        return self._frames(self.core.params_from_latent(self._points(x)), x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``decode``: what nn~ calls when created without a method name."""
        return self.decode(x)


def script_nn_tilde(model: SavedModel, metadata: dict, ratio: int) -> torch.jit.ScriptModule:
    return torch.jit.script(NNTildeFlowSynth(model, metadata, ratio).eval())
