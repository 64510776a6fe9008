"""benchmarks/osc_latency.py pairs every params reply with the request it answers, whatever
the latency: with 64 dial values it paired a reply 100 ms late with a request 64 ms later,
reporting 36 ms."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.osc_latency import K, match


def _run(latency_s: float, every: int, n: int = 5000, rate: float = 1000.0):
    """Requests at ``rate``; the server answers each ``every``-th one ``latency_s`` later (it
    skipped the others under a burst). Replies are named by their dial value i % K."""
    sends = 100.0 + np.arange(n) / rate
    table = {f"v{k}".encode(): k for k in range(K)}
    replies = [(sends[j] + latency_s, f"v{j % K}".encode()) for j in range(every - 1, n, every)]
    return match(sends, replies, table, rate)


@pytest.mark.parametrize("latency_ms", [0.5, 30.0, 100.0, 500.0])
def test_every_reply_is_matched_to_its_own_request(latency_ms):
    got = _run(latency_ms / 1000, every=4)
    assert got["answered"] == 5000 // 4 and got["ambiguous_replies"] == 0
    assert got["p50_ms"] == pytest.approx(latency_ms, abs=1e-6)
    assert got["max_ms"] == pytest.approx(latency_ms, abs=1e-6)


def test_a_reply_no_value_can_name_is_counted_not_guessed():
    got = _run(1.5, every=3)  # over K requests sent meanwhile: K / 1000 s = 1.024 s
    assert got["ambiguous_replies"] > 0
    # Only the replies after the last requests were sent have one fit, and it is right.
    assert got["answered"] < 5000 // 3 - got["ambiguous_replies"] + 1
    assert got["min_ms"] == pytest.approx(1500, abs=1e-6) if "min_ms" in got else \
        got["p50_ms"] == pytest.approx(1500, abs=1e-6)
    assert got["max_ms"] == pytest.approx(1500, abs=1e-6)
