"""Multi-process (torchrun) plumbing. A single process is the world_size == 1 case of the same code.

Only rank 0 reports and writes checkpoints; every rank reads the same data plan and takes its own
rows. gloo is used on CPU, nccl on CUDA.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Rank layout of this process (from torchrun's environment variables)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls) -> DistContext:
        """Read RANK / LOCAL_RANK / WORLD_SIZE (absent = a single process)."""
        return cls(
            rank=int(os.environ.get("RANK", "0")),
            local_rank=int(os.environ.get("LOCAL_RANK", "0")),
            world_size=int(os.environ.get("WORLD_SIZE", "1")),
        )


# What torchrun (or a manual launch) sets for init_process_group's default env:// rendezvous.
_RENDEZVOUS_ENV = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE")


def init_process_group(
    ctx: DistContext, device: torch.device, *, single_rank: bool = False
) -> bool:
    """Join the torchrun process group once; True when this call created it (the caller may
    then destroy it), False when there was one already or none is needed.

    A single process needs no group unless `single_rank` (FSDP needs one even for one rank):
    under `torchrun --nproc-per-node 1` it joins torchrun's rendezvous, otherwise it makes a
    private in-memory one-rank group (no port is opened). nccl on CUDA, gloo on the CPU.
    """
    if dist.is_initialized() or not (ctx.enabled or single_rank):
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    if ctx.enabled or all(name in os.environ for name in _RENDEZVOUS_ENV):
        dist.init_process_group(backend=backend)
    else:
        # torch imports HashStore into torch.distributed (POSIX only) without re-exporting it.
        store = dist.HashStore()  # type: ignore[attr-defined]
        dist.init_process_group(backend=backend, store=store, rank=0, world_size=1)
    return True


def sum_across_ranks(value: float, ctx: DistContext, device: torch.device) -> float:
    """Sum a number over all ranks (identity for a single process)."""
    return sum_all_across_ranks([value], ctx, device)[0]


def sum_all_across_ranks(
    values: list[float], ctx: DistContext, device: torch.device
) -> list[float]:
    """Element-wise sum of a list of numbers over all ranks, in one collective."""
    if not ctx.enabled:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def any_rank(flag: bool, ctx: DistContext, device: torch.device) -> bool:
    """True when `flag` is True on any rank, so all ranks take the same branch."""
    return sum_across_ranks(float(flag), ctx, device) > 0 if ctx.enabled else flag


def broadcast_bytes(data: bytes | None, ctx: DistContext, device: torch.device) -> bytes:
    """Send rank 0's bytes to every rank (the data key under torchrun: only rank 0 reads stdin)."""
    if not ctx.enabled:
        if data is None:
            raise ValueError("a single process must supply the bytes itself")
        return data
    # Tensor broadcast, not broadcast_object_list: that one pickles.
    length = torch.tensor([len(data) if data is not None else 0], dtype=torch.int64, device=device)
    dist.broadcast(length, src=0)
    buffer = torch.zeros(int(length.item()), dtype=torch.uint8, device=device)
    if ctx.is_main:
        if data is None:
            raise ValueError("rank 0 must supply the bytes it broadcasts")
        buffer.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    dist.broadcast(buffer, src=0)
    return bytes(buffer.cpu().numpy().tobytes())
