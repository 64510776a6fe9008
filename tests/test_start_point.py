"""One start point (docs/devices.md, "Where a slot starts"): a fresh slot, a /load (the same
model again too) and a restarted server all put the shipped model at its start point, a
training preset's latent that decodes inside the parameters' ranges."""

from __future__ import annotations

import numpy as np

from bridge.hosting.registry import shipped_model_path
from bridge.models.diagnostics import out_of_range_share
from bridge.models.saved import SavedModel
from bridge.server import OSCServer, ServerConfig
from tests.test_server_stage import Client


def _serve(tmp_path):
    from bridge.commands.serve import _model_source

    loader, names, _, default = _model_source(None, [])
    server = OSCServer(loader, names, ServerConfig(port=0, output_dir=str(tmp_path)))
    model = server.load_slot(1, default)
    server.start()
    assert server.wait_idle()  # the load is applied by the worker
    return server, model, default


def test_fresh_slot_load_and_restart_start_at_the_start_point(tmp_path):
    server, model, default = _serve(tmp_path)
    start = np.asarray(model.center(), np.float32)[0]
    c = Client(server.address)
    try:
        assert np.array_equal(server.slots[1].state.z, start)
        # Move away, then load the same model again: back at the start point.
        c.send("/flowsynth/1/latent", *[float(x) for x in start + 0.5])
        c.until("/flowsynth/1/params")
        assert not np.allclose(server.slots[1].state.z, start)
        c.send("/flowsynth/1/load", default)
        c.until("/flowsynth/1/info", timeout=60)
        assert server.wait_idle()
        assert np.array_equal(server.slots[1].state.z, start)
        # A slot never used before starts there too.
        c.send("/flowsynth/2/load", default)
        c.until("/flowsynth/2/info", timeout=60)
        assert server.wait_idle()
        assert np.array_equal(server.slots[2].state.z, start)
    finally:
        c.close()
        server.stop()
    again, model2, _ = _serve(tmp_path)  # a restart: a new process would load the same file
    try:
        assert np.array_equal(again.slots[1].state.z, start)
        assert np.array_equal(np.asarray(model2.center(), np.float32)[0], start)
    finally:
        again.stop()


def test_the_shipped_start_point_decodes_in_range():
    saved = SavedModel.load(shipped_model_path())
    start = np.asarray(saved.macros.origin, np.float32)[None]
    assert out_of_range_share(saved, start) < 0.10
