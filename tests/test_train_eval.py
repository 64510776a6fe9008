"""`flowsynth train` and `flowsynth eval` end to end on a tiny dataset."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from bridge.cli import main
from bridge.models.checkpoint_host import CheckpointModel

EPOCHS = 6


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from tests.conftest import render_sine_dataset

    return render_sine_dataset(tmp_path_factory.mktemp("data") / "sine")


def _train_cmd(data, out, *extra):
    return [
        sys.executable,
        "-m",
        "bridge.cli",
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--config",
        "tiny",
        "--set",
        f"epochs={EPOCHS}",
        "--set",
        "tag_pairs=dark_bright",
        "--threads",
        "1",
        *extra,
    ]


def _metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_train_is_killed_then_resumes_and_matches_an_uninterrupted_run(tiny_data, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    full = tmp_path / "full"
    t0 = time.time()
    subprocess.run(_train_cmd(tiny_data, full), check=True, env=env, capture_output=True)
    assert time.time() - t0 < 60
    assert len(_metrics(full)) == EPOCHS and (full / "model.pt").is_file()

    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        _train_cmd(tiny_data, cut), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if (cut / "checkpoint.pt").exists():
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(_metrics(cut))
    assert 1 <= done < EPOCHS, "the run should have been killed midway"
    assert not (cut / "model.pt").exists()

    # Without --resume the folder is refused, with it the run finishes where it stopped.
    refused = subprocess.run(_train_cmd(tiny_data, cut), env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = subprocess.run(
        _train_cmd(tiny_data, cut, "--resume"), env=env, capture_output=True, text=True, check=True
    )
    assert "resuming" in resumed.stdout
    rows = _metrics(cut)
    assert [r["epoch"] for r in rows] == list(range(1, EPOCHS + 1))
    # Same seeds per epoch: the resumed run retraces the uninterrupted one.
    np.testing.assert_allclose(
        [r["valid_loss"] for r in rows], [r["valid_loss"] for r in _metrics(full)], rtol=1e-4
    )


def test_trained_model_passes_eval_and_hosts(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(tiny_data),
                "--out",
                str(out),
                "--config",
                "tiny",
                "--set",
                "tag_pairs=dark_bright",
            ]
        )
        == 0
    )
    assert main(["eval", "--model", str(out / "model.pt"), "--data", str(tiny_data),
                 "--match", "0.2"]) == 0
    printed = capsys.readouterr().out
    assert "mean_preset" in printed and "SC" in printed
    result = json.loads((out / "eval" / "eval.json").read_text())
    # beside the model: the mean preset, the nearest training sound, its 5 nearest, matcher
    assert set(result["results"]) == {"flow", "mean_preset", "nearest_1", "nearest_5_mean",
                                      "matcher_0.2s"}
    assert "--match 0.2" in result["provenance"]["command"]
    for row in result["results"].values():
        for key in (
            "num_mse",
            "cat_accuracy",
            "spectral_convergence",
            "log_spectral_mae",
            "mfcc_mae",
        ):
            assert np.isfinite(row[key]["mean"]) and np.isfinite(row[key]["std"])
    assert (out / "eval" / "eval.md").read_text().startswith("# Evaluation")
    assert (out / "eval" / "reconstructions.png").stat().st_size > 1000

    host = CheckpointModel.load(out / "model.pt")
    assert host.macro_names[0] == "dark-bright" and len(host.macro_names) <= 8
    z = host.center()
    v = host.params_from_latent(z)
    assert v.shape == (1, 6) and v.min() >= 0 and v.max() <= 1
    np.testing.assert_allclose(host.params_from_latent(host.latent_from_params(v)), v, atol=1e-4)
    m = host.macros_from_latent(z)
    np.testing.assert_allclose(host.latent_from_macros(m, z), z, atol=1e-4)
    assert host.latent_from_audio(np.zeros((2, 5000), np.float32)).shape == (2, host.latent_dim)


@pytest.mark.parametrize("config", ["baseline-mlp", "baseline-cnn", "baseline-vae-mlp"])
def test_baselines_train_and_evaluate_the_same_way(tiny_data, tmp_path, config):
    out = tmp_path / config
    args = ["--set", "epochs=1", "--set", "hidden=32", "--set", "channels=4,8"]
    assert (
        main(["train", "--data", str(tiny_data), "--out", str(out), "--config", config, *args]) == 0
    )
    assert (
        main(["eval", "--model", str(out / "model.pt"), "--data", str(tiny_data), "--no-plot"]) == 0
    )
    with pytest.raises(ValueError, match="no invertible latent"):
        CheckpointModel.load(out / "model.pt")


def test_bad_training_input_is_refused(tiny_data, tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]) == 2
    assert (
        main(["train", "--data", str(tiny_data), "--out", str(tmp_path / "r"), "--config", "huge"])
        == 2
    )
    assert (
        main(["train", "--data", str(tiny_data), "--out", str(tmp_path / "r"), "--set", "wings=3"])
        == 2
    )
    assert (
        main(
            [
                "train",
                "--data",
                str(tiny_data),
                "--out",
                str(tmp_path / "r"),
                "--config",
                "tiny",
                "--set",
                "tag_pairs=happy_sad",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "unknown config" in err and "no such config key" in err and "no tags" in err


def test_a_resumed_run_may_stop_sooner_but_not_change_its_model(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", "--data", str(tiny_data), "--out", str(out), "--config", "tiny"]
    assert main([*base, "--set", "epochs=3"]) == 0
    assert main([*base, "--resume", "--set", "epochs=3", "--set", "hidden=64"]) == 2
    assert "hidden" in capsys.readouterr().err
    # Fewer epochs than already run: nothing more is trained, the model is written again.
    (out / "model.pt").unlink()
    assert main([*base, "--resume", "--set", "epochs=2"]) == 0
    assert (out / "model.pt").is_file() and len(_metrics(out)) == 3


def test_warm_up_schedules_are_as_configured(tiny_data, tmp_path):
    out = tmp_path / "run"
    sets = ["epochs=6", "lr=0.002", "lr_warmup_epochs=3", "beta=0.4", "beta_warmup_epochs=4"]
    sets += ["plateau_patience=100", "early_stop_patience=100"]
    args = ["train", "--data", str(tiny_data), "--out", str(out), "--config", "tiny"]
    assert main([*args, *sum((["--set", s] for s in sets), [])]) == 0
    rows = _metrics(out)
    # lr ramps linearly over the first lr_warmup_epochs + 1 epochs, then holds (no plateau).
    np.testing.assert_allclose(
        [r["lr"] for r in rows], [0.002 * f for f in (1 / 4, 2 / 4, 3 / 4, 1, 1, 1)], rtol=1e-6
    )
    # beta starts at 0 and reaches its value after beta_warmup_epochs epochs.
    np.testing.assert_allclose(
        [r["beta"] for r in rows], [0.4 * f for f in (0, 1 / 4, 2 / 4, 3 / 4, 1, 1)], rtol=1e-6
    )
    assert not (out / "best_state.pt").exists()  # the best weights live in the checkpoint


@pytest.fixture(scope="module")
def tiny_model(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "run"
    args = ["train", "--data", str(tiny_data), "--out", str(out), "--config", "tiny"]
    assert main([*args, "--set", "tag_pairs=dark_bright", "--threads", "1"]) == 0
    return out / "model.pt"


@pytest.mark.parametrize("what", ["macros", "morph"])
def test_plot_commands_write_pictures(tiny_model, tmp_path, capsys, what):
    png = tmp_path / f"{what}.png"
    assert main(["plot", what, "--model", str(tiny_model), "--out", str(png), "--steps", "3"]) == 0
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {png}" in capsys.readouterr().out
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_eval_scores_an_out_of_domain_folder_and_records_provenance(
    tiny_model, tiny_data, tmp_path, capsys
):
    from bridge.audio.io import save_wav
    from bridge.data.dataset import sha256_file

    ood = tmp_path / "ood"
    ood.mkdir()
    t = np.arange(22050) / 22050
    save_wav(ood / "hum.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 22050)
    noise = np.random.default_rng(0).standard_normal(11025).astype(np.float32) * 0.1
    save_wav(ood / "noise.wav", noise, 22050)
    (ood / "notes.txt").write_text("not audio: skipped")
    report = tmp_path / "report"
    args = ["eval", "--model", str(tiny_model), "--data", str(tiny_data), "--ood", str(ood)]
    assert main([*args, "--out", str(report), "--no-plot", "--limit", "8"]) == 0
    assert "out of domain" in capsys.readouterr().out
    result = json.loads((report / "eval.json").read_text())
    ood_row = result["out_of_domain"]
    assert ood_row["n"] == 2
    assert np.isfinite(ood_row["results"]["spectral_convergence"]["mean"])
    prov = result["provenance"]
    assert prov["command"].startswith("flowsynth eval --model ") and "--ood" in prov["command"]
    assert prov["model_sha256"] == sha256_file(tiny_model)
    assert prov["date"].endswith("+00:00")
    assert prov["git_commit"] is None or len(prov["git_commit"].split("-")[0]) == 40
    md = (report / "eval.md").read_text()
    assert prov["model_sha256"] in md and "Out-of-domain: 2 files" in md
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*args[:5], "--ood", str(empty), "--out", str(report), "--no-plot"]) == 2
    assert "no audio files" in capsys.readouterr().err
