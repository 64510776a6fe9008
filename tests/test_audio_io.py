from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge import atomic
from bridge.audio import io as audio_io
from bridge.audio.io import AudioError, load_audio, save_wav


def _sine(freq: float, sr: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return x if channels == 1 else np.stack([x] * channels, axis=1)


def test_roundtrip_same_rate(tmp_path: Path) -> None:
    x = _sine(440, 22050, 0.5)
    p = save_wav(tmp_path / "a.wav", x, 22050)
    y = load_audio(p, 22050)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_array_equal(x, y)


def test_stereo_is_mixed_to_mono(tmp_path: Path) -> None:
    left = _sine(440, 16000, 0.25)
    stereo = np.stack([left, -left + 0.25], axis=1)
    sf.write(tmp_path / "s.wav", stereo, 16000, subtype="FLOAT")
    y = load_audio(tmp_path / "s.wav", 16000)
    np.testing.assert_allclose(y, 0.125, atol=1e-6)


@pytest.mark.parametrize("src_rate", [44100, 48000, 16000, 8000])
def test_resampling_keeps_duration_and_pitch(tmp_path: Path, src_rate: int) -> None:
    sf.write(tmp_path / "r.wav", _sine(440, src_rate, 1.0), src_rate, subtype="FLOAT")
    y = load_audio(tmp_path / "r.wav", 22050)
    assert abs(len(y) - 22050) <= 1
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak_hz = np.argmax(spectrum) * 22050 / len(y)
    assert abs(peak_hz - 440) < 2
    assert abs(np.max(np.abs(y[1000:-1000])) - 0.5) < 0.02


def test_flac_and_other_formats(tmp_path: Path) -> None:
    sf.write(tmp_path / "f.flac", _sine(220, 22050, 0.2), 22050)
    assert load_audio(tmp_path / "f.flac", 22050).shape == (4410,)


def test_missing_file() -> None:
    with pytest.raises(AudioError, match="no such audio file"):
        load_audio("/nonexistent/x.wav", 22050)


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not a file"):
        load_audio(tmp_path, 22050)


def test_not_audio(tmp_path: Path) -> None:
    (tmp_path / "t.wav").write_text("hello, I am not a WAV file\n" * 10)
    with pytest.raises(AudioError, match="not an audio file"):
        load_audio(tmp_path / "t.wav", 22050)


def test_empty_file_and_zero_frames(tmp_path: Path) -> None:
    (tmp_path / "e.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(tmp_path / "e.wav", 22050)
    sf.write(tmp_path / "z.wav", np.zeros(0, np.float32), 22050)
    with pytest.raises(AudioError, match="no audio"):
        load_audio(tmp_path / "z.wav", 22050)


def test_too_long_checked_from_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sf.write(tmp_path / "l.wav", _sine(440, 8000, 3.0), 8000)

    def no_decode(*a, **k):
        raise AssertionError("decoded a file that the header already refused")

    monkeypatch.setattr(audio_io.sf, "read", no_decode)
    with pytest.raises(AudioError, match=r"3\.0 s, over the limit of 2 s"):
        load_audio(tmp_path / "l.wav", 8000, max_seconds=2)


def test_too_big_checked_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sf.write(tmp_path / "b.wav", _sine(440, 8000, 1.0), 8000)

    def no_info(*a, **k):
        raise AssertionError("opened a file that its size already refused")

    monkeypatch.setattr(audio_io.sf, "info", no_info)
    with pytest.raises(AudioError, match="MB, over the limit"):
        load_audio(tmp_path / "b.wav", 8000, max_bytes=1000)


def test_within_limits_loads(tmp_path: Path) -> None:
    sf.write(tmp_path / "ok.wav", _sine(440, 8000, 1.0), 8000)
    y = load_audio(tmp_path / "ok.wav", 8000, max_seconds=30, max_bytes=50_000_000)
    assert y.shape == (8000,)


def test_nan_content(tmp_path: Path) -> None:
    x = _sine(440, 8000, 0.1)
    x[10] = np.nan
    sf.write(tmp_path / "n.wav", x, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(tmp_path / "n.wav", 8000)


def test_audio_error_is_a_value_error() -> None:
    assert issubclass(AudioError, ValueError)


def test_save_replaces_atomically_and_leaves_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "out.wav"
    save_wav(p, np.zeros(100, np.float32), 8000)
    save_wav(p, _sine(440, 8000, 0.1, channels=2), 8000)
    assert sf.info(str(p)).channels == 2
    assert sorted(f.name for f in tmp_path.iterdir()) == ["out.wav"]
    assert (p.stat().st_mode & 0o777) == 0o644


def test_failed_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "keep.wav"
    old = _sine(440, 8000, 0.1)
    save_wav(p, old, 8000)

    def half_write(file, data, *a, **k):
        Path(file).write_bytes(b"RIFF....partial")
        raise OSError("disk full")

    monkeypatch.setattr(audio_io.sf, "write", half_write)
    with pytest.raises(AudioError, match="disk full"):
        save_wav(p, np.zeros(50, np.float32), 8000)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["keep.wav"]
    np.testing.assert_array_equal(sf.read(str(p), dtype="float32")[0], old)


def test_save_to_missing_or_unwritable_folder(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="does not exist"):
        save_wav(tmp_path / "nope" / "x.wav", np.zeros(10), 8000)
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    with pytest.raises(AudioError, match="does not exist"):
        save_wav(blocker / "x.wav", np.zeros(10), 8000)


def test_save_unwritable_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod cannot stop root, so stand in for the OS refusing to create the temporary file.
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    with pytest.raises(AudioError, match="not writable"):
        save_wav(tmp_path / "x.wav", np.zeros(10), 8000)


def test_save_rejects_bad_audio(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="NaN"):
        save_wav(tmp_path / "x.wav", np.array([0.0, np.nan]), 8000)
    with pytest.raises(AudioError, match="expected"):
        save_wav(tmp_path / "x.wav", np.zeros((2, 2, 2)), 8000)
    assert list(tmp_path.iterdir()) == []
