"""Multi-process training on PyTorch's own engine (``torch.distributed`` + DistributedDataParallel).

``torchrun --nproc_per_node=N -m neurot fit ...`` starts N processes; :func:`init_from_env` joins them into a
process group (gloo on CPU, nccl on GPU). Inside :meth:`~neurot.solvers.base.Solver.fit` every rank then trains on
its own shard of the data with ``batch_size / N`` points per step (the global batch is the configured one), its
own random stream, Markov chains and replay buffer (of ``buffer_size / N`` states), while DDP averages the
gradients of the trained networks, so every rank holds the same weights after every step. Metrics are averaged
over ranks; rank 0 writes the outputs. Nothing here pickles: collectives move tensors only.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from neurot._validation import check_device
from neurot.data import DataSource

if dist.is_available():
    # Its functions take ``group=group.WORLD`` as a default argument, which binds the default process group that
    # exists when the module is first imported. DDP imports it, so imported after the group exists it would keep the
    # group, and its gloo threads, alive past ``destroy_process_group`` until the interpreter's exit, whose teardown
    # of those threads aborts a process now and then (SIGABRT, "terminate called without an active exception").
    import torch.distributed.nn.functional  # noqa: F401


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """The rank of this process (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on the process that writes metrics, checkpoints and outputs (rank 0)."""
    return rank() == 0


def launched_rank() -> int:
    """The rank ``torchrun`` gave this process (0 without ``torchrun``), also before and after the group exists."""
    return int(os.environ.get("RANK", "0"))


def init_from_env(device: str | None) -> tuple[str | None, bool]:
    """Join the process group that ``torchrun`` describes in the environment (``WORLD_SIZE > 1``).

    Returns the device this rank should use (``cuda:LOCAL_RANK`` for a CUDA run) and whether a group was created
    here (the caller then ends it with :func:`shutdown`). Without ``torchrun`` it changes nothing.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (dist.is_available() and dist.is_initialized()):
        return device, False
    cuda = check_device("device", device).type == "cuda"
    if cuda:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    dist.init_process_group("nccl" if cuda else "gloo")
    return device, True


def shutdown(wait: bool = True) -> None:
    """Leave the process group created by :func:`init_from_env`; ``wait``: first wait for every rank to get here."""
    if dist.is_available() and dist.is_initialized():
        if wait and is_distributed():
            dist.barrier()
        dist.destroy_process_group()


def shard(source: DataSource) -> DataSource:
    """The share ``points[rank::world]`` of this rank of a finite sample (statistics stay those of the whole sample).

    A callable source is returned unchanged: it is called on every rank and must draw independent points there.
    """
    if not is_distributed() or source.points is None or len(source.points) < world_size():
        return source
    return dataclasses.replace(source, points=source.points[rank() :: world_size()])


def split_stream(generator: torch.Generator, seed: int, step: int) -> None:
    """Give a rank > 0 its own random stream from ``step`` on; rank 0 keeps the single-process stream."""
    if rank() > 0:
        generator.manual_seed((seed * 1_000_003 + rank() * 7_919 + step) % 2**63)


def mean_metrics(metrics: dict[str, float], device: torch.device) -> dict[str, float]:
    """Average scalar metrics over ranks (every rank passes the same keys)."""
    if not is_distributed():
        return metrics
    keys = sorted(metrics)
    values = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(values)
    values /= world_size()
    return dict(zip(keys, values.tolist(), strict=True))


def any_rank(flag: bool, device: torch.device) -> bool:
    """True when ``flag`` is true on some rank (so that every rank stops at the same step)."""
    if not is_distributed():
        return flag
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def check_in_sync(modules: dict[str, nn.Module], device: torch.device) -> None:
    """Raise ``RuntimeError`` unless every rank holds the same parameters (the invariant DDP keeps)."""
    if not is_distributed():
        return
    for name, module in modules.items():
        flat = torch.cat([p.detach().reshape(-1).double() for p in module.parameters()] or [torch.zeros(1)])
        flat = flat.to(device)
        high, low = flat.clone(), flat.clone()
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        if not torch.equal(high, low):
            raise RuntimeError(f"the {name} network differs between ranks: gradients were not synchronised")


def check_same_step(step: int, device: torch.device) -> None:
    """Raise ``RuntimeError`` unless every rank starts training at ``step`` (they resumed the same checkpoint)."""
    if not is_distributed():
        return
    value = torch.tensor([step, -step], dtype=torch.float64, device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    if value[0] != -value[1]:
        raise RuntimeError(f"ranks start at different steps ({-int(value[1])} to {int(value[0])}): every rank must "
                           "see the same checkpoint directory to resume")


class DataParallel(DistributedDataParallel):
    """DDP that also exposes the wrapped network's own attributes (``potential.log_partition``, ...)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "module":
                raise
            return getattr(self.module, name)


def unwrap(module: nn.Module) -> nn.Module:
    """The network inside a :class:`DataParallel` wrapper (or ``module`` itself)."""
    return module.module if isinstance(module, DistributedDataParallel) else module


def _wrap(module: nn.Module) -> DataParallel:
    # No buffer broadcast in forward: buffers (normalisation) are equal on every rank, and without collectives in
    # forward a rank may redo a step alone (step-size backoff) without desynchronising the others.
    no_sync_buffers = ({"forward_sync_buffers": False}
                       if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                       else {"broadcast_buffers": False})
    device = next(module.parameters()).device
    device_ids = [device.index] if device.type == "cuda" else None
    return DataParallel(module, device_ids=device_ids, **no_sync_buffers)


@contextmanager
def data_parallel(owner: object, modules: dict[str, nn.Module]) -> Iterator[None]:
    """Within the block, every attribute of ``owner`` holding one of ``modules`` holds its DDP wrapper instead.

    Gradients of losses computed through the wrappers are averaged over ranks in ``backward``. Calls made for
    sampling (Langevin chains, gradients in the inputs only) pass through the wrappers without communicating.
    """
    if not is_distributed():
        yield
        return
    targets = [m for m in modules.values() if any(p.requires_grad for p in m.parameters())]
    swapped = {name: value for name, value in vars(owner).items() if any(value is m for m in targets)}
    try:
        for name, module in swapped.items():
            setattr(owner, name, _wrap(module))
        yield
    finally:
        for name, module in swapped.items():
            setattr(owner, name, module)


#: Solver options that count points per step or in total over all ranks; each rank takes its share.
GLOBAL_COUNTS = ("batch_size", "buffer_size", "hjb_points")


def local_config(config: Any) -> Any:
    """A copy of a solver config with this rank's share of :data:`GLOBAL_COUNTS` (the batch, the replay buffer).

    The global batch must divide evenly; other counts are rounded up.
    """
    if not is_distributed():
        return config
    world = world_size()
    batch = getattr(config, "batch_size", 0)
    if batch % world:
        raise ValueError(f"batch_size = {batch} (the global batch) must be divisible by the {world} processes of "
                         "the distributed run")
    counts = {name: -(-getattr(config, name) // world) for name in GLOBAL_COUNTS
              if isinstance(getattr(config, name, None), int)}
    return dataclasses.replace(config, **counts)
