"""Audio descriptors and tag rules on signals whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import median_filter

from bridge.data import tags

SR = 22050
T = np.arange(SR) / SR  # 1 s


def col(values: np.ndarray, name: str) -> np.ndarray:
    return values[:, tags.DESCRIPTORS.index(name)]


def describe(*signals: np.ndarray) -> np.ndarray:
    return tags.describe_audio(np.stack(signals).astype(np.float32), SR, held=0.9)


def sine(f: float, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * f * T)


def noise(amp: float = 0.5, seed: int = 0) -> np.ndarray:
    return amp * np.random.default_rng(seed).uniform(-1, 1, len(T))


def clicks() -> np.ndarray:
    x = np.zeros(len(T))
    x[::2205] = 0.9  # ten clicks a second: broadband, short
    return x


@pytest.mark.parametrize("shape", [(3, 40), (2, 5, 17), (1, 3)])
def test_running_median_matches_scipy(shape):
    x = np.random.default_rng(0).random(shape).astype(np.float32)
    x[..., ::4] = 0.25  # ties
    for axis in range(1, len(shape)):
        size = [1] * len(shape)
        size[axis] = tags.HPSS_KERNEL
        ref = median_filter(x, size=tuple(size), mode="nearest")
        np.testing.assert_array_equal(tags.median_along(x, axis), ref)


def test_hpss_shares_sort_sines_clicks_and_noise():
    v = describe(sine(440), clicks(), noise())
    assert np.allclose(v[:, :3].sum(axis=1), 1.0, atol=1e-5)
    assert col(v, "harmonic_share")[0] > 0.9
    assert col(v, "percussive_share")[1] > 0.35
    labels = tags.boolean_labels(v)
    assert labels[0].tolist() == [True, False, False]
    assert labels[1, 1] and labels[2, 2]  # percussive clicks, noisy noise


def test_brightness_movement_and_aggression_order_as_heard():
    tremolo = sine(440) * (0.5 + 0.5 * np.sin(2 * np.pi * 6 * T))
    v = describe(sine(200), sine(6000), sine(440), tremolo, sine(220, 0.02), noise(0.9))
    centroid, flux, aggr = col(v, "centroid_hz"), col(v, "flux"), col(v, "aggression")
    assert abs(centroid[0] - 200) < 30 and abs(centroid[1] - 6000) < 100
    assert flux[3] > 5 * flux[2]
    assert aggr[5] > aggr[4] + 0.3
    assert col(v, "flatness")[5] > 0.3 > col(v, "flatness")[2]
    assert col(v, "hf_share")[1] > 0.9 and col(v, "hf_share")[0] < 0.01
    assert abs(col(v, "loudness_db")[2] - 20 * np.log10(0.5 / np.sqrt(2))) < 0.5


def test_attack_time():
    ramp = sine(440) * np.minimum(T / 0.5, 1.0)
    v = describe(sine(440), ramp)
    assert col(v, "attack_s")[0] < 0.02 and 0.4 < col(v, "attack_s")[1] < 0.5


def test_silence_and_short_audio_stay_finite():
    v = tags.describe_audio(np.zeros((2, 300), np.float32), SR, held=0.01)
    assert np.all(np.isfinite(v))


def test_pair_thresholds_are_quantiles():
    values = np.zeros((100, len(tags.DESCRIPTORS)), np.float32)
    values[:, tags.DESCRIPTORS.index("centroid_hz")] = np.arange(100)
    th = tags.pair_thresholds(values, 0.3)
    labels = tags.pair_labels(values, th)
    bright = labels["dark_bright"]
    assert (bright == -1).sum() == 30 and (bright == 1).sum() == 30
    assert bright[0] == -1 and bright[-1] == 1
    # A constant descriptor labels nothing.
    assert not labels["calm_aggressive"].any()
    assert th["dark_bright"]["negative"] == "dark" and th["dark_bright"]["positive"] == "bright"
    with pytest.raises(ValueError):
        tags.pair_thresholds(values, 0.6)
