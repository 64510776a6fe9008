"""Named training configurations. A config is plain data: it is saved inside every model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from bridge.synth.spec import ENCODINGS

MODEL_KINDS = ("flow", "vae_mlp", "mlp", "cnn")


@dataclass(frozen=True)
class ModelConfig:
    kind: str = "flow"  # flow (the Flow Synthesizer) or a baseline: vae_mlp, mlp, cnn
    encoding: str = "numcat++"
    # Spectral VAE
    channels: tuple[int, ...] = (16, 32, 64, 64)
    kernel: int = 5
    hidden: int = 256
    # Posterior flow on the encoder's sample: "iaf", "realnvp" or "none"
    posterior_flow: str = "iaf"
    posterior_layers: int = 4
    # Hidden width of the posterior's and the disentangling flows' nets; 0: twice the latent
    # size (at least 64). A 610-dimensional latent (Dexed, numcat++) needs it set: twice
    # 610 made a 200 MB model.
    posterior_hidden: int = 0
    # Regression flow z <-> v (RealNVP coupling layers)
    regression_layers: int = 6
    regression_hidden: int = 128
    regression_blocks: int = 2
    categorical_temperature: float = 0.2
    # Coupling scales within [e^-bound, e^bound] (0: nflows' sigmoid scale), and the weight of
    # |U^-1(v) - z|^2, which teaches the inverse to put real presets near their sounds.
    coupling_bound: float = 2.0
    inverse_weight: float = 0.1
    # Preset morphs (see FlowSynth.loss): the weight of a penalty on numerical outputs outside
    # [0, 1] at random blends of the batch's inversely encoded presets, and of a pull of the
    # forward categorical scores toward exact one-hots, where the presets' inverses start.
    # Measured by benchmarks/morph_quality.py (results/morph_quality.json): with these, blends
    # of held-out presets left [0, 1] 6% of the time instead of 45%.
    morph_weight: float = 1.0
    onehot_weight: float = 0.1
    # Disentangling flows for tag pairs (Esling et al. 2020, section 3.3); empty: none
    tag_pairs: tuple[str, ...] = ()
    tag_mu: float = 2.0
    tag_sigma: float = 0.5
    disentangle_layers: int = 2
    # Baseline regressors
    mlp_layers: int = 3
    dropout: float = 0.1
    # Losses
    beta: float = 0.2  # weight of the latent term (per latent dimension) against per-pixel MSE
    # The latent term: "kl" (beta-VAE) or "mmd" (a Wasserstein auto-encoder's MMD between the
    # batch's latents and draws from the prior, times mmd_weight, in place of the KL)
    latent_loss: str = "kl"
    mmd_weight: float = 10.0
    beta_warmup_epochs: int = 10
    regression_weight: float = 1.0
    # Optimisation
    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    lr_warmup_epochs: int = 2
    plateau_patience: int = 4
    plateau_factor: float = 0.5
    early_stop_patience: int = 10
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    seed: int = 0
    n_macros: int = 8
    # Time budget in minutes (0: none); training stops cleanly, keeping the best epoch.
    max_minutes: float = 0.0
    notes: str = ""

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ValueError(
                f"model kind {self.kind!r} unknown; use one of {', '.join(MODEL_KINDS)}"
            )
        if self.encoding not in ENCODINGS:
            raise ValueError(
                f"encoding {self.encoding!r} unknown; use one of {', '.join(ENCODINGS)}"
            )
        if self.posterior_hidden < 0:
            raise ValueError("posterior_hidden must be >= 0 (0: twice the latent size)")
        if self.posterior_flow not in ("iaf", "realnvp", "none"):
            raise ValueError("posterior_flow must be iaf, realnvp or none")
        if self.latent_loss not in ("kl", "mmd"):
            raise ValueError(
                f"latent_loss {self.latent_loss!r} unknown; use kl (beta-VAE) or mmd (WAE)"
            )
        for key in ("inverse_weight", "morph_weight", "onehot_weight", "mmd_weight", "beta"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0 (0 turns its term off)")

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @staticmethod
    def from_dict(d: dict) -> ModelConfig:
        known = {f.name for f in fields(ModelConfig)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}")
        tuples = {
            f.name for f in fields(ModelConfig) if isinstance(getattr(ModelConfig(), f.name), tuple)
        }
        return ModelConfig(**{k: tuple(v) if k in tuples else v for k, v in d.items()})

    def override(self, **kw) -> ModelConfig:
        return replace(self, **kw)


CONFIGS: dict[str, ModelConfig] = {
    # Trains the shipped subtractive model on 2 CPU cores within 45 minutes.
    "default": ModelConfig(
        tag_pairs=("calm_aggressive", "dark_bright"),
        epochs=80,
        max_minutes=42.0,
        notes="shipped model: subtractive, 32-parameter subset, numcat++, IAF posterior",
    ),
    # The shipped Dexed model (scripts/ship_dexed_model.py): 144 parameters, numcat++ as Le
    # Vaillant et al. (a 610-dimensional latent), nets narrowed so that the model and its
    # retrieval index (7.2 MB for 8000 training sounds) stay under 20 MB.
    "dexed": ModelConfig(
        tag_pairs=("calm_aggressive", "dark_bright"),
        hidden=128,
        posterior_hidden=96,
        posterior_layers=2,
        regression_hidden=96,
        epochs=80,
        max_minutes=38.0,
        notes="shipped model: dexed, 144 voice parameters, numcat++, IAF posterior",
    ),
    # Esling et al. 2020 adapted: IAF posterior, regression flow, 128 mels, beta warm-up.
    "esling2020": ModelConfig(
        encoding="num",
        channels=(32, 64, 128, 128),
        kernel=7,
        hidden=512,
        posterior_layers=16,
        regression_layers=8,
        epochs=200,
        beta_warmup_epochs=50,
        lr=2e-4,
        plateau_patience=20,
        early_stop_patience=40,
        notes="Esling et al. 2020 adapted to the built-in synths",
    ),
    # Le Vaillant et al. 2021 adapted: RealNVP posterior and regression flows, numcat++.
    "levaillant2021": ModelConfig(
        encoding="numcat++",
        channels=(32, 64, 128, 128),
        hidden=512,
        posterior_flow="realnvp",
        posterior_layers=6,
        regression_layers=6,
        regression_hidden=256,
        epochs=200,
        beta_warmup_epochs=25,
        lr=2e-4,
        plateau_patience=10,
        early_stop_patience=30,
        notes="Le Vaillant et al. 2021 adapted to the built-in synths",
    ),
    # Tiny: for tests and smoke runs (seconds).
    "tiny": ModelConfig(
        channels=(4, 8),
        hidden=32,
        posterior_layers=1,
        regression_layers=2,
        regression_hidden=16,
        regression_blocks=1,
        epochs=2,
        batch_size=16,
        beta_warmup_epochs=1,
        lr_warmup_epochs=0,
    ),
    "baseline-mlp": ModelConfig(kind="mlp", hidden=512, epochs=80, dropout=0.3),
    "baseline-cnn": ModelConfig(kind="cnn", epochs=80),
    "baseline-vae-mlp": ModelConfig(kind="vae_mlp", posterior_flow="none", epochs=80),
}


def get_config(name: str, **overrides) -> ModelConfig:
    if name not in CONFIGS:
        raise ValueError(f"unknown config {name!r}; known: {', '.join(CONFIGS)}")
    return CONFIGS[name].override(**overrides) if overrides else CONFIGS[name]
