"""A retrieval index of a model's training sounds, small enough to ship inside the model file.

Each training sound's log-mel (the model's own features, first note) is stored as its
coordinates on the training split's leading principal components: L2 distances there are the
L2 distances between log-mels up to the discarded variance, so nearest neighbours come out as
an exact search on the full spectrograms would find them, at a few percent of the size
(``benchmarks/match_quality.py`` reports how often both agree). The tensors travel in the
model file under ``extras`` (plain tensors, loaded with ``weights_only=True``: no pickles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

PREFIX = "retrieval_index."
DEFAULT_COMPONENTS = 128


@dataclass
class RetrievalIndex:
    mean: np.ndarray  # [D] float32, the training split's mean flattened log-mel (dB)
    basis: np.ndarray  # [K, D] float32, orthonormal principal directions
    coords: np.ndarray  # [N, K] float32, each training sound on the basis
    presets: np.ndarray  # [N, n_learn] float32, normalized values of the learned parameters

    def __len__(self) -> int:
        return len(self.coords)

    @staticmethod
    def build(
        mels_db: np.ndarray, presets: np.ndarray, components: int = DEFAULT_COMPONENTS
    ) -> RetrievalIndex:
        """[N, C, M, F] training log-mels and their [N, n_learn] presets -> an index."""
        if len(mels_db) != len(presets) or len(mels_db) == 0:
            raise ValueError(
                f"an index needs as many presets as sounds (got {len(presets)} and "
                f"{len(mels_db)}) and at least one of each"
            )
        x = torch.as_tensor(_flat(mels_db), dtype=torch.float32)
        mean = x.mean(0)
        k = int(min(components, x.shape[0], x.shape[1]))
        # A randomized SVD (Halko et al., as torch ships it) finds the leading directions in
        # seconds where the exact one of a few thousand by a few thousand takes a minute.
        g = torch.Generator().manual_seed(0)
        state = torch.random.get_rng_state()
        torch.manual_seed(int(torch.randint(2**31, (1,), generator=g)))
        try:
            _, _, v = torch.svd_lowrank(x - mean, q=min(k + 16, min(x.shape)), niter=4)
        finally:
            torch.random.set_rng_state(state)
        basis = v[:, :k].T.contiguous()
        coords = (x - mean) @ basis.T
        return RetrievalIndex(
            mean.numpy(), basis.numpy(), coords.numpy(), np.asarray(presets, np.float32)
        )

    def project(self, mels_db: np.ndarray) -> np.ndarray:
        """[B, C, M, F] log-mels (dB) -> [B, K] coordinates."""
        x = _flat(mels_db)
        if x.shape[1] != self.mean.shape[0]:
            raise ValueError(
                f"features of size {x.shape[1]} do not fit an index built on {self.mean.shape[0]}"
            )
        return (x - self.mean) @ self.basis.T

    def nearest(self, mels_db: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest training sounds of each query: (indices [B, k], RMS dB [B, k])."""
        q = self.project(mels_db)
        d2 = (
            (q**2).sum(1, keepdims=True)
            - 2.0 * q @ self.coords.T
            + (self.coords**2).sum(1)[None]
        )
        k = min(k, len(self))
        idx = np.argpartition(d2, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(d2, idx, 1).argsort(1)
        idx = np.take_along_axis(idx, order, 1)
        dist = np.sqrt(np.maximum(np.take_along_axis(d2, idx, 1), 0.0) / self.mean.shape[0])
        return idx, dist

    def to_tensors(self) -> dict[str, torch.Tensor]:
        # float16 halves the size; the coordinates' rounding (3 significant digits) moves
        # distances far less than neighbours differ.
        return {
            PREFIX + "mean": torch.from_numpy(self.mean),
            PREFIX + "basis": torch.from_numpy(self.basis).half(),
            PREFIX + "coords": torch.from_numpy(self.coords).half(),
            PREFIX + "presets": torch.from_numpy(self.presets).half(),
        }

    @staticmethod
    def from_tensors(t: dict[str, torch.Tensor]) -> RetrievalIndex | None:
        """The index stored in a model's extras, or None when the model has none."""
        if PREFIX + "coords" not in t:
            return None
        get = lambda name: t[PREFIX + name].float().numpy()  # noqa: E731
        idx = RetrievalIndex(get("mean"), get("basis"), get("coords"), get("presets"))
        if idx.basis.shape[1] != idx.mean.shape[0] or len(idx.coords) != len(idx.presets):
            raise ValueError("the model's retrieval index is damaged (shapes disagree)")
        return idx

    def nbytes(self) -> int:
        return sum(v.numel() * v.element_size() for v in self.to_tensors().values())


def _flat(mels_db: np.ndarray) -> np.ndarray:
    m = np.asarray(mels_db, np.float32)
    if m.ndim == 3:
        m = m[:, None]
    if m.ndim != 4:
        raise ValueError(f"expected [B, C, M, F] log-mels, got shape {m.shape}")
    return m[:, 0].reshape(len(m), -1)
