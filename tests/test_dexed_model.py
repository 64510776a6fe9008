"""The shipped Dexed model (bridge/assets/models/dexed.pt) in the OSC server: listed, loaded
by name, serving dials, presets and morphs with or without the plugin; render needs the
plugin and says which one is missing."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.hosting import registry
from bridge.server import OSCServer, ServerConfig
from tests.test_server_unit import Client

ROOT = Path(__file__).resolve().parent.parent
MODEL = registry.SHIPPED_DIR / "dexed.pt"
PLUGIN = ROOT.parent / "shared" / "plugins" / "dexed" / "Dexed.vst3"

pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason=f"no shipped model at {MODEL}")


@pytest.fixture
def server(tmp_path):
    default = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    default.bind(("127.0.0.1", 0))
    cfg = ServerConfig(port=0, reply_port=default.getsockname()[1], allow_dirs=[str(tmp_path)],
                       output_dir=str(tmp_path))
    srv = OSCServer(lambda name: registry.load_hosted(name), registry.list_models, cfg)
    srv.start()
    c = Client(srv.address)
    c.send("/flowsynth/hello", c.port)
    c.until("/flowsynth/welcome")
    yield srv, c, tmp_path
    c.close()
    default.close()
    srv.stop()


def _load(c: Client) -> list:
    c.send("/flowsynth/models")
    assert "dexed" in c.until("/flowsynth/models")
    c.send("/flowsynth/1/load", "dexed")
    return c.until("/flowsynth/1/info", timeout=120)


def test_dexed_model_serves_dials_presets_and_morphs_without_the_plugin(server, monkeypatch):
    monkeypatch.setenv("FLOWSYNTH_DEXED", "/nonexistent/Dexed.vst3")  # as if not installed
    _, c, tmp_path = server
    assert _load(c) == ["dexed", "dexed", 144, 610, 8]
    names = c.until("/flowsynth/1/names")
    assert names[:2] == ["ALGORITHM", "FEEDBACK"] and "OP1 OUTPUT LEVEL" in names
    c.send("/flowsynth/1/macro", 0, 0.8)
    params = np.array(c.until("/flowsynth/1/params"))
    assert params.shape == (144,) and (0 <= params).all() and (params <= 1).all()
    c.send("/flowsynth/1/anchor", "a")
    c.until("/flowsynth/1/anchor")
    c.send("/flowsynth/1/explore", 1.0, 3)
    c.until("/flowsynth/1/params")
    c.send("/flowsynth/1/anchor", "b")
    c.until("/flowsynth/1/anchor")
    c.send("/flowsynth/1/morph", 0.5)
    assert len(c.until("/flowsynth/1/params")) == 144
    c.send("/flowsynth/1/preset", *[float(x) for x in params])
    assert len(c.until("/flowsynth/1/latent")) == 610
    t = np.arange(22050) / 22050
    sf.write(tmp_path / "hum.wav", 0.3 * np.sin(2 * np.pi * 220 * t), 22050)
    c.send("/flowsynth/1/sketch", str(tmp_path / "hum.wav"))  # answered without renders
    assert len(c.until("/flowsynth/1/params", timeout=120)) == 144
    c.send("/flowsynth/1/render", str(tmp_path / "x.wav"))
    slot, code, message = c.until("/flowsynth/error", timeout=120)
    assert slot == 1 and "Dexed" in message and "FLOWSYNTH_DEXED" in message, message
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.skipif(not PLUGIN.exists(), reason=f"no Dexed plugin at {PLUGIN}")
def test_dexed_model_renders_through_the_plugin(server, monkeypatch):
    monkeypatch.setenv("FLOWSYNTH_DEXED", str(PLUGIN))
    _, c, tmp_path = server
    _load(c)
    c.send("/flowsynth/1/macro", 1, 0.3)
    c.until("/flowsynth/1/params")
    target = tmp_path / "dexed.wav"
    c.send("/flowsynth/1/render", str(target))
    assert c.until("/flowsynth/1/rendered", timeout=120) == [str(target)]
    audio, sr = sf.read(target)
    assert sr == 22050 and np.abs(audio).max() > 1e-3
