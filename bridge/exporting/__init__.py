"""Scriptable re-implementations of a trained FlowSynth, for TorchScript export.

nflows transforms cannot be compiled by ``torch.jit.script`` (functions held as attributes,
optional contexts, Python-side shape checks), so export rebuilds the inference path from plain
torch modules that hold the very same weights:

- ``flows``: affine coupling, masked autoregressive (IAF) and permutation layers;
- ``codec``: the parameter spec's encode/decode (one-hot argmax, quantization) in torch;
- ``module``: the exported model with the host methods and its metadata;
- ``nn_tilde``: the variant following nn~'s [batch, channels, time] contract.
"""
