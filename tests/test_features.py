"""Log-mel features and audio loading: where a sine's energy lands, frame counts, levels,
resampling, mono mixing, and normalization statistics taken from the training split only."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from bridge.audio.features import (
    FeatureConfig,
    _hz_to_mel,
    _mel_to_hz,
    log_mel,
    normalization_stats,
)
from bridge.audio.io import load_audio
from bridge.data.render import make_features

SR = 22050


def sine(freq: float, seconds: float = 1.0, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def band_centers(cfg: FeatureConfig) -> np.ndarray:
    mels = np.linspace(_hz_to_mel(cfg.fmin), _hz_to_mel(cfg.fmax), cfg.n_mels + 2)
    return _mel_to_hz(mels)[1:-1]


def middle_frame(mel: np.ndarray) -> np.ndarray:
    return mel[:, mel.shape[1] // 2]


@pytest.mark.parametrize("n_mels", [64, 128])
@pytest.mark.parametrize("freq", [110.0, 440.0, 1000.0, 2500.0, 7000.0])
def test_a_sine_lands_in_its_mel_band(n_mels: int, freq: float) -> None:
    cfg = make_features(SR, n_mels)
    frame = middle_frame(log_mel(sine(freq), cfg))
    centers = band_centers(cfg)
    peak = int(np.argmax(frame))
    # the band whose center is nearest, or its neighbour when the sine sits between two
    nearest = int(np.argmin(np.abs(centers - freq)))
    assert abs(peak - nearest) <= 1, (peak, nearest, centers[peak], freq)
    assert centers[max(peak - 1, 0)] <= freq * 1.02 and freq <= centers[min(peak + 1,
                                                                            n_mels - 1)] * 1.02
    # far bands hold (almost) nothing: 60 dB under the peak two octaves away
    far = np.abs(np.log2(centers / freq)) > 2
    assert frame[far].max() < frame[peak] - 60


@pytest.mark.parametrize("n_mels", [64, 128])
def test_frame_count_and_shape(n_mels: int) -> None:
    """4 s at 22.05 kHz, hop 1024, centred frames: 1 + 88200 // 1024 = 87 frames."""
    cfg = make_features(SR, n_mels)
    audio = np.zeros((3, 4 * SR), np.float32)
    mel = log_mel(audio, cfg)
    assert cfg.hop == 1024 and cfg.n_frames(4 * SR) == 87
    assert mel.shape == (3, n_mels, 87) and mel.dtype == np.float32
    assert log_mel(audio[0], cfg).shape == (n_mels, 87)
    # silence is the floor, a finite constant
    assert np.all(mel == cfg.floor_db)


def test_level_in_decibels() -> None:
    """Log-mels are 10*log10 of power in dB: twice the amplitude (+6.02 dB) adds 20*log10(2)
    in every band above the floor."""
    cfg = make_features(SR, 64)
    quiet = middle_frame(log_mel(sine(1000.0, amp=0.25), cfg))
    loud = middle_frame(log_mel(sine(1000.0, amp=0.5), cfg))
    above = quiet > cfg.floor_db + 10
    assert above.sum() >= 5
    # (the log's tiny epsilon moves the faintest bands by a few thousandths of a dB)
    np.testing.assert_allclose(loud[above] - quiet[above], 20 * np.log10(2), atol=0.01)
    assert abs(loud.max() - quiet.max() - 20 * np.log10(2)) < 1e-4
    # A band averages power over its width, so a full-scale sine (0 dB per STFT bin) reads a
    # few dB under 0: about -6 dB at 1 kHz in 64 bands, -3 dB in the narrower 128.
    full = middle_frame(log_mel(sine(1000.0, amp=1.0), cfg))
    assert -7.0 < full.max() < -4.5
    full128 = middle_frame(log_mel(sine(1000.0, amp=1.0), make_features(SR, 128)))
    assert -4.0 < full128.max() < -2.0
    # 100 dB under that is the floor: nothing goes lower
    tiny = log_mel(sine(1000.0, amp=1e-7), cfg)
    assert tiny.min() == cfg.floor_db


def test_loading_another_rate_resamples(tmp_path) -> None:
    """A 48 kHz file loads at 22.05 kHz: same duration, same pitch, same level."""
    path = tmp_path / "a48k.wav"
    sf.write(path, sine(1000.0, seconds=2.0, amp=0.5, sr=48000), 48000, subtype="FLOAT")
    audio = load_audio(path, SR)
    assert audio.dtype == np.float32 and len(audio) == 2 * SR
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    freqs = np.fft.rfftfreq(len(audio), 1 / SR)
    assert freqs[np.argmax(spectrum)] == pytest.approx(1000.0, abs=1.0)
    mid = audio[SR // 2 : 3 * SR // 2]
    assert np.abs(mid).max() == pytest.approx(0.5, rel=0.01)
    cfg = make_features(SR, 64)
    np.testing.assert_allclose(
        middle_frame(log_mel(audio, cfg)), middle_frame(log_mel(sine(1000.0, 2.0), cfg)),
        atol=0.5,
    )


def test_loading_mixes_channels_to_mono(tmp_path) -> None:
    left, right = sine(440.0, amp=0.6), sine(660.0, amp=0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, SR), (left + right) / 2, atol=1e-7)
    # opposite channels cancel: the mix is a mean, not a pick of one channel
    sf.write(path, np.stack([left, -left], axis=1), SR, subtype="FLOAT")
    assert np.abs(load_audio(path, SR)).max() < 1e-7


def test_normalization_stats() -> None:
    rng = np.random.default_rng(0)
    mels = rng.normal(-40.0, 12.0, (50, 1, 8, 10))
    stats = normalization_stats(mels)
    assert stats["mean"] == pytest.approx(mels.mean()) and stats["std"] == pytest.approx(
        mels.std())
    # constant inputs would divide by zero: the std has a floor
    assert normalization_stats(np.full((4, 1, 8, 10), -100.0))["std"] > 0


def test_training_normalizes_with_the_training_split_only(tmp_path) -> None:
    """train.prepare takes the statistics of the training split alone: validation and test
    mels must not leak into the input scaling."""
    from bridge.data.dataset import Dataset
    from bridge.data.render import RenderSettings, render_dataset
    from bridge.models.configs import get_config
    from bridge.synth.base import Note
    from bridge.train import prepare
    from tests.conftest import SineSynth

    root = tmp_path / "sine"
    settings = RenderSettings("testsine", 40, notes=(Note(60, 100, 0.2, 0.3),), shard_size=40)
    render_dataset(settings, root, synth=SineSynth(), progress=False, log=lambda m: None)
    ds = Dataset(root)
    split = ds.split(seed=0)
    held_out = np.concatenate([split["valid"], split["test"]])
    params, mels, tags = ds.load()
    # Make the held-out presets stand out, so that using them would show in the statistics.
    mels = mels_with_outliers(mels, held_out)
    ds.load = lambda: (params, mels, tags)  # type: ignore[method-assign]
    data = prepare(ds, get_config("default"), split=split)
    expected = normalization_stats(mels[split["train"]])
    assert data.norm == expected
    assert data.norm["mean"] < normalization_stats(mels)["mean"] - 1
    x = (mels.astype(np.float32) - expected["mean"]) / expected["std"]
    np.testing.assert_allclose(data.x.numpy(), x, rtol=1e-6, atol=1e-5)


def mels_with_outliers(mels: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = np.array(mels, dtype=np.float16, copy=True)
    out[rows] = 0.0  # far above anything the training rows hold
    return out
