"""Run by ``torchrun --nproc_per_node=2`` from tests/test_distributed.py: DDP checks inside a 2-process group.

Writes ``OUT/KIND-RANK.safetensors`` (weights trained with the data sharding and per-rank random streams switched
off), ``OUT/report-RANK.json`` and, on Linux, ``OUT/threads-RANK.json``: the names of the threads still running
after the process group was destroyed.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from safetensors.torch import save_file

import neurot
from neurot import distributed

LOCAL_BATCH = 32
SOLVERS = {
    "egnot": lambda batch: neurot.EgNOT(eps=0.5, hidden=(16, 16), batch_size=batch, buffer_size=3 * batch,
                                        langevin_steps=3),  # batch and buffer are global: halved per rank
    "lightsb": lambda batch: neurot.LightSB(eps=0.5, n_components=3, batch_size=batch),
    "sfeuot": lambda batch: neurot.SFEUOT(eps=0.5, hidden=(16, 16), generator_hidden=(16,), batch_size=batch),
    "otflow": lambda batch: neurot.OTFlow(hidden=(16, 16), classifier_hidden=(8,), ratio_hidden=(8,),
                                          batch_size=batch, ode_steps=3, warmup_steps=4, reflow_steps=2,
                                          refine_steps=2, ratio_steps=4, reflow_pairs=64),
}


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(400, 2)), rng.normal(size=(400, 2)) * 0.5 + 1


def weights(solver):
    return {f"{name}.{key}": value.contiguous() for name, module in solver._modules().items()
            for key, value in module.state_dict().items()}


def main(out):
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    report = {}
    try:
        with pytest.raises(ValueError, match="batch_size = 33 .* divisible by the 2 processes"):
            SOLVERS["lightsb"](33).fit(*data(), steps=1)
        shard, split_stream = distributed.shard, distributed.split_stream
        distributed.shard = lambda source: source
        distributed.split_stream = lambda *args: None
        for kind, make in SOLVERS.items():
            trained = make(2 * LOCAL_BATCH).fit(*data(), steps=12, seed=1)
            save_file(weights(trained), f"{out}/{kind}-{rank}.safetensors")
        distributed.shard, distributed.split_stream = shard, split_stream
        solver = SOLVERS["egnot"](2 * LOCAL_BATCH).fit(*data(), steps=3, seed=1)  # own shards and streams
        with torch.no_grad():
            next(solver.potential.parameters()).add_(rank)
        with pytest.raises(RuntimeError, match="potential network differs between ranks"):
            distributed.check_in_sync(solver._modules(), solver.device)
        report["ok"] = True
    finally:
        (Path(out) / f"report-{rank}.json").write_text(json.dumps(report))
        distributed.shutdown()  # a barrier first: a rank leaving early can abort the other in gloo
    tasks = Path("/proc/self/task")
    if tasks.exists():
        names = [(task / "comm").read_text().strip() for task in tasks.iterdir()]
        (Path(out) / f"threads-{rank}.json").write_text(json.dumps(names))


if __name__ == "__main__":
    main(sys.argv[1])
