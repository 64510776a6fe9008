"""Training on several processes with PyTorch's DDP, as started by ``torchrun``.

``torchrun --nproc-per-node N -m bridge.cli train ... --ddp`` starts N processes; each reads
its rank from the environment torchrun sets. Every global batch of the config's ``batch_size``
is split across the ranks, so a config trains the same model whatever N is (the gradients are
averaged over the whole batch). GPUs use NCCL, one GPU per process; CPUs use gloo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

TORCHRUN_HINT = "torchrun --nproc-per-node N -m bridge.cli train ... --ddp"


@dataclass(frozen=True)
class Group:
    """This process's place in a training run: rank ``rank`` of ``world``."""

    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def leader(self) -> bool:
        """Rank 0 validates, writes checkpoints and metrics, and saves the model."""
        return self.rank == 0


SINGLE = Group()


def start(device: str | None) -> Group:
    """Join the process group torchrun set up; ``device`` None picks CUDA when present."""
    missing = [k for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK") if k not in os.environ]
    if missing:
        raise ValueError(
            f"--ddp runs under torchrun, which sets {', '.join(missing)}; start it as "
            f"`{TORCHRUN_HINT}` (without --ddp, training uses one process)"
        )
    local = int(os.environ["LOCAL_RANK"])
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if torch.cuda.device_count() <= local:
            raise ValueError(
                f"--ddp: process {local} on this machine has no GPU of its own "
                f"({torch.cuda.device_count()} visible); use --nproc-per-node <= the GPU count "
                "or --device cpu"
            )
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return Group(dist.get_rank(), dist.get_world_size(), device)


def stop(group: Group) -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def broadcast(group: Group, obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (a checkpoint, a validation result, a stop decision)."""
    if not group.active:
        return obj
    box = [obj if group.leader else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def sum_metrics(group: Group, sums: dict[str, float], n: int) -> tuple[dict[str, float], int]:
    """Per-rank sums of batch metrics, added over the ranks."""
    if not group.active:
        return sums, n
    keys = sorted(sums)
    t = torch.tensor([sums[k] for k in keys] + [float(n)], dtype=torch.float64)
    if group.device.startswith("cuda"):
        t = t.to(group.device)
    dist.all_reduce(t)
    vals = t.cpu().tolist()
    return dict(zip(keys, vals[:-1], strict=True)), int(vals[-1])


class LossModule(torch.nn.Module):
    """``net.loss`` as a forward pass, which is what DDP wraps and synchronizes."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x, v, t, beta: float):
        return self.net.loss(x, v, t, beta)


def wrap(group: Group, net: torch.nn.Module):
    """A module whose forward is ``net.loss``, under DDP where the run has several ranks."""
    module = LossModule(net)
    if not group.active:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.device(group.device).index] if group.device.startswith("cuda") else None
    return DistributedDataParallel(module, device_ids=ids)
