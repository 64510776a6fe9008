"""`flowsynth synths`, `render` and `listen`: exit codes, messages, files left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.cli import main
from bridge.data.dataset import Dataset

SMALL = [
    "--synth",
    "testsine",
    "--presets",
    "12",
    "--shard-size",
    "4",
    "--held",
    "0.4",
    "--duration",
    "0.5",
    "--workers",
    "1",
    "--quiet",
]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_synths_table_and_json(capsys):
    code, out, _ = run(capsys, "synths", "--synth", "testsine")
    assert code == 0
    assert "name" in out and "steps/categories" in out
    assert "level" in out and "-60..0 dB" in out and "sine, square" in out
    assert "subset tone: ratio, mix, wave" in out
    code, out, _ = run(capsys, "synths", "--synth", "testsine", "--json")
    desc = json.loads(out)
    assert code == 0 and desc["name"] == "testsine" and len(desc["spec"]["params"]) == 6
    code, out, _ = run(capsys, "synths", "--json")
    assert code == 0 and "testsine" in json.loads(out)


def test_synths_unknown(capsys):
    code, _, err = run(capsys, "synths", "--synth", "nope")
    assert code == 2 and "unknown synth 'nope'" in err and "\n" == err[-1] and err.count("\n") == 1


def test_render_then_rerun(capsys, tmp_path):
    out = tmp_path / "ds"
    code, text, _ = run(capsys, "render", *SMALL, "--notes", "60,64", "--out", str(out))
    assert code == 0 and "presets kept of 12 rendered" in text
    ds = Dataset(out)
    assert len(ds.notes) == 2 and ds.manifest["sampling"] == "uniform"
    # Same command again: already complete, nothing to do.
    assert run(capsys, "render", *SMALL, "--notes", "60,64", "--out", str(out))[0] == 0
    code, _, err = run(capsys, "render", *SMALL, "--notes", "60", "--out", str(out))
    assert code == 2 and "other settings" in err and "notes" in err and "--overwrite" in err
    code, _, _ = run(capsys, "render", *SMALL, "--notes", "60", "--out", str(out), "--overwrite")
    assert code == 0 and len(Dataset(out).notes) == 1


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--synth", "nope"], "unknown synth"),
        (["--subset", "nope"], "no subset or parameter"),
        (["--velocity", "200"], "velocity"),
        (["--notes", "sixty"], "cannot read note"),
        (["--held", "2"], "held time"),
        (["--n-mels", "3"], "n_mels"),
        (["--presets", "0"], "--presets"),
        (["--shard-size", "0"], "--shard-size"),
        (["--sample-rate", "100"], "sample rate"),
        (["--workers", "0"], "--workers"),
        (["--synth-config", "missing.toml"], "does not exist"),
    ],
)
def test_render_bad_input_exits_2_and_leaves_nothing(capsys, tmp_path, extra, message):
    out = tmp_path / "ds"
    code, _, err = run(capsys, "render", *SMALL, *extra, "--out", str(out))
    assert code == 2, err
    assert message in err and err.startswith("flowsynth render: error:")
    assert not out.exists()


def test_render_unwritable_out(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "render", *SMALL, "--out", str(blocker / "ds"))
    assert code == 2 and "--out" in err
    code, _, err = run(capsys, "render", *SMALL, "--out", str(blocker))
    assert code == 2 and "is a file" in err
    assert blocker.read_text() == "x"


def test_listen_writes_wav_and_prints_preset(capsys, tmp_path):
    wav = tmp_path / "a.wav"
    code, out, _ = run(
        capsys,
        "listen",
        "--synth",
        "testsine",
        "--preset",
        "default",
        "--set",
        "wave=square",
        "--set",
        "level=-3",
        "--duration",
        "0.5",
        "--held",
        "0.3",
        "--out",
        str(wav),
    )
    assert code == 0
    lines = dict(ln.split("=", 1) for ln in out.splitlines() if not ln.startswith("#"))
    assert lines["wave"] == "square" and float(lines["level"]) == pytest.approx(-3, abs=1e-3)
    assert float(lines["ratio"]) == pytest.approx(2.0)
    audio, sr = sf.read(wav)
    assert sr == 22050 and len(audio) == 11025 and np.abs(audio).max() > 0.1
    assert not [p for p in tmp_path.iterdir() if p.name != "a.wav"]


def test_listen_preset_file_and_random(capsys, tmp_path):
    preset = tmp_path / "p.json"
    preset.write_text(json.dumps({"mix": 0.25, "wave": "square"}))
    code, out, _ = run(
        capsys,
        "listen",
        "--synth",
        "testsine",
        "--preset",
        str(preset),
        "--duration",
        "0.5",
        "--held",
        "0.3",
        "--out",
        str(tmp_path / "b.wav"),
    )
    assert code == 0 and "mix=0.25\n" in out and "wave=square" in out
    a = run(
        capsys,
        "listen",
        "--synth",
        "testsine",
        "--seed",
        "5",
        "--duration",
        "0.5",
        "--held",
        "0.3",
        "--out",
        str(tmp_path / "c.wav"),
    )[1]
    b = run(
        capsys,
        "listen",
        "--synth",
        "testsine",
        "--seed",
        "5",
        "--duration",
        "0.5",
        "--held",
        "0.3",
        "--out",
        str(tmp_path / "d.wav"),
    )[1]
    assert a.splitlines()[:6] == b.splitlines()[:6]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--set", "nope=1"], "unknown parameter 'nope'"),
        (["--set", "level=5"], "outside"),
        (["--set", "wave=saw"], "unknown category"),
        (["--set", "level"], "NAME=VALUE"),
        (["--preset", "missing.json"], "neither random"),
        (["--pitch", "300"], "pitch"),
        (["--synth", "nope"], "unknown synth"),
    ],
)
def test_listen_bad_input(capsys, tmp_path, extra, message):
    wav = tmp_path / "x.wav"
    code, _, err = run(capsys, "listen", "--synth", "testsine", *extra, "--out", str(wav))
    assert code == 2 and message in err
    assert not list(tmp_path.iterdir())


def test_subtractive_listen(capsys, tmp_path):
    pytest.importorskip("bridge.synth.subtractive")
    wav = tmp_path / "s.wav"
    code, out, _ = run(
        capsys,
        "listen",
        "--synth",
        "subtractive",
        "--preset",
        "natural",
        "--duration",
        "0.5",
        "--held",
        "0.3",
        "--out",
        str(wav),
    )
    assert code == 0 and "cutoff=" in out and wav.is_file()


def test_listen_checks_the_output_path_before_rendering(capsys, tmp_path):
    """A path that cannot be written fails up front, with nothing rendered or printed."""
    blocker = tmp_path / "blk"
    blocker.write_text("x")
    cases = [
        (blocker / "a.wav", f"{blocker} is a file, not a folder"),
        (tmp_path / "nope" / "a.wav", "does not exist"),
        (tmp_path / "dir.wav", "is a folder"),
    ]
    (tmp_path / "dir.wav").mkdir()
    if Path("/proc/self").is_dir():  # a folder nobody can create files in, root included
        cases.append((Path("/proc/a.wav"), "cannot create files in /proc"))
    for out, message in cases:
        code, stdout, err = run(capsys, "listen", "--synth", "testsine", "--out", str(out))
        assert code == 2 and message in err, err
        assert stdout == "", "the preset was rendered and printed before the path was checked"
        assert err.count("\n") == 1
    assert blocker.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blk", "dir.wav"]


def test_synths_into_a_closed_pipe_exits_quietly():
    """`flowsynth synths | head -1`: no BrokenPipe traceback when the reader stops early."""
    script = (
        "import sys; from bridge.cli import main; sys.exit(main(['synths']))"
    )
    # A pipe whose reader is already gone: the first write fails, whatever the timing.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script], stdout=write_end, stderr=subprocess.PIPE, timeout=120
        )
    finally:
        os.close(write_end)
    err = proc.stderr.decode()
    assert proc.returncode == 141
    assert "Traceback" not in err and "BrokenPipe" not in err, err
