"""Several processes, one run: ``torchrun --nproc_per_node N -m convnext_lesson train ...``.

torchrun starts N copies of the program with RANK, LOCAL_RANK and WORLD_SIZE set.
Each trains on its own share of every batch (DistributedDataParallel averages the
gradients); metrics are summed over processes, and only rank 0 writes files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_type: str) -> DistInfo:
    """Join the process group torchrun set up (NCCL on GPUs, gloo on CPUs); a no-op without torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return DistInfo(rank, local, world)


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_object(obj, info: DistInfo):
    """Rank 0's ``obj`` on every rank (e.g. an error found while preparing the data)."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def main_first(info: DistInfo, work, on_every_rank: bool = True):
    """``work()`` on rank 0, then (``on_every_rank``) on the others; returns its result (None where not run).

    An error on rank 0 (data not found, run folder locked) reaches every rank, which raises
    it too: without this the other ranks would wait in a collective until the NCCL timeout.
    """
    if not info.enabled:
        return work()
    if info.is_main:
        try:
            result = work()
        except Exception as error:
            broadcast_object(error, info)
            raise
        broadcast_object(None, info)
        return result
    error = broadcast_object(None, info)
    if error is not None:
        raise error
    return work() if on_every_rank else None
