"""Ray, for work that outgrows one machine: connecting, and naming the worker in errors.

Ray is optional (``pip install 'flowsynth-bridge[cluster]'``). ``--ray`` takes ``local`` (a Ray
instance started on this machine for this run and stopped after it), ``auto`` (the default: the
cluster this machine already belongs to, through ``ray start`` or ``$RAY_ADDRESS``, else a local
instance) or an address (``HOST:6379``, ``ray://HOST:10001``). Whatever runs on a worker and
fails there raises :class:`WorkerError`, whose message names the worker's host.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

INSTALL_HINT = "pip install 'flowsynth-bridge[cluster]'"
# A local instance's shared-memory store: shards and results travel through it one at a time,
# so a small store does; Ray's default (30% of memory) would reserve gigabytes for nothing.
LOCAL_OBJECT_STORE_BYTES = 200 * 2**20


class WorkerError(RuntimeError):
    """Work failed on a Ray worker; the message says which one and why."""


def require_ray():
    try:
        import ray
    except ImportError:
        raise ValueError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def worker_name() -> str:
    """This process's host and Ray node address, for error messages."""
    try:
        import ray

        ip = ray.util.get_node_ip_address()
    except Exception:  # not inside Ray, or Ray cannot tell: the host name alone still helps
        ip = "?"
    return f"{socket.gethostname()} ({ip}, pid {os.getpid()})"


def on_worker(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` and re-raise whatever it raises as a WorkerError naming this worker."""
    try:
        return fn(*args)
    except Exception as e:
        raise WorkerError(f"on Ray worker {worker_name()}: {e}") from e


@contextmanager
def connect(address: str, num_cpus: int | None = None, env: dict[str, str] | None = None):
    """Connected to Ray for the ``with`` block; a ``local`` instance is stopped after it.

    ``env`` is set on every worker (e.g. where the plugin lives); ``num_cpus`` sizes a local
    instance only (a cluster has the CPUs it has).
    """
    ray = require_ray()
    if ray.is_initialized():  # a caller (a notebook, a test) already connected: use that
        yield ray
        return
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "configure_logging": False,
        "log_to_driver": True,
        "runtime_env": {"env_vars": dict(env)} if env else None,
    }
    local = dict(address="local", num_cpus=num_cpus, object_store_memory=LOCAL_OBJECT_STORE_BYTES)
    try:
        if address == "local":
            ray.init(**kwargs, **local)
        elif address == "auto":
            try:
                ray.init(**kwargs, address="auto")
            except ConnectionError:  # no cluster to join: this machine is the cluster
                ray.init(**kwargs, **local)
        else:
            ray.init(**kwargs, address=address)
    except ConnectionError as e:
        raise ValueError(
            f"--ray {address}: no Ray cluster answers there ({e}); start one with `ray start "
            "--head`, give its address, or pass --ray local"
        ) from None
    try:
        yield ray
    finally:
        ray.shutdown()


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def as_completed(
    remote: Any, jobs: Iterable[tuple], limit: int, on_running: Callable[[int], None] | None = None
) -> Iterator[Any]:
    """Submit ``remote.remote(*job)`` for each job, at most ``limit`` in flight, and yield the
    results as they finish. A worker's error is raised here as the WorkerError it raised."""
    import ray

    pending = list(jobs)[::-1]
    running: list = []
    try:
        while pending or running:
            while pending and len(running) < limit:
                running.append(remote.remote(*pending.pop()))
            if on_running is not None:
                on_running(len(running))
            ready, running = ray.wait(running, num_returns=1)
            if on_running is not None:
                on_running(len(running))
            try:
                yield ray.get(ready[0])
            except ray.exceptions.RayTaskError as e:
                cause = getattr(e, "cause", None)
                if isinstance(cause, WorkerError):
                    raise WorkerError(str(cause)) from None
                raise
    finally:
        for ref in running:  # stopped early (an error, Ctrl-C): do not leave work running
            ray.cancel(ref, force=True)
