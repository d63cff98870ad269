"""Where a run's random numbers come from, so that a resumed run is the run it continues.

Every random number of a run is drawn from a generator seeded by (seed, epoch, step) or
(seed, epoch, image), never carried over. So the state to save is the model, optimizer,
schedule, scaler, EMA and the position (epoch, step); resuming there reproduces the rest.
"""
from __future__ import annotations

from torch.utils.data import DistributedSampler

from .distributed import DistInfo


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from integers: different (seed, epoch, index) never share a stream."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = ((h ^ (int(p) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


class EpochSampler(DistributedSampler):
    """DistributedSampler (shuffled by seed + epoch) that yields ``(index, augmentation seed)``
    and can start part-way into an epoch (resume, or a retry after running out of memory)."""

    def __init__(self, dataset, info: DistInfo, seed: int):
        super().__init__(dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=seed,
                         drop_last=True)
        self.start = 0

    def __iter__(self):
        for i in list(super().__iter__())[self.start:]:
            yield i, mix_seed(self.seed, self.epoch, i)

    def __len__(self) -> int:
        return self.num_samples - self.start
