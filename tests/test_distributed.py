"""Data-parallel training on two CPU processes (gloo): exact gradient averaging, and agreement with one process.

Two processes at a global batch ``B`` (``B / 2`` per rank) follow the same algorithm as one process at ``B`` but
draw different random numbers (each rank its own data shard, chains and replay buffer), so results agree only
statistically; the tolerance of that test is stated there. Exactness of the machinery is tested separately: with
the data sharding and the per-rank random streams switched off, both ranks compute the same gradient, DDP's
average is that gradient, and training must reproduce a one-process run at batch ``B / 2`` bit for bit.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from neurot.benchmarks.gaussian import gaussian_benchmark_pair
from neurot.config import read_config
from neurot.runs import fit_run, load_run

SRC = Path(__file__).parents[1] / "src"
WORKER = Path(__file__).parent / "distributed_worker.py"


def torchrun(*args):
    env = dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_two_ranks_reproduce_one_process_exactly_when_their_randomness_is_shared(tmp_path):
    spec = importlib.util.spec_from_file_location("distributed_worker", WORKER)
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)
    torchrun(str(WORKER), str(tmp_path))
    assert all(json.loads((tmp_path / f"report-{rank}.json").read_text()).get("ok") for rank in (0, 1))
    # On Linux: no gloo thread outlives the destroyed group (tearing one down at the interpreter's exit can abort)
    for names in tmp_path.glob("threads-*.json"):
        assert not [name for name in json.loads(names.read_text()) if "gloo" in name], names.name
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the workers: sums over 1 or 2 threads may differ in the last bit
    try:
        references = {kind: worker.weights(make(worker.LOCAL_BATCH).fit(*worker.data(), steps=12, seed=1))
                      for kind, make in worker.SOLVERS.items()}
    finally:
        torch.set_num_threads(threads)
    for kind, reference in references.items():
        for rank in (0, 1):
            trained = load_file(tmp_path / f"{kind}-{rank}.safetensors")
            assert all(torch.equal(trained[k], reference[k]) for k in reference), (kind, rank)


def test_torchrun_two_processes_agree_with_one_at_the_same_global_batch(tmp_path):
    """EgNOT (MLP potential, Langevin chains) on a 2-D Gaussian pair with a closed-form plan, 300 steps at a global
    batch of 256. Measured RMS errors of the conditional means (50 inputs, 1000 draws each) against the exact ones,
    seeds 0-6: one process 0.035-0.122, two processes 0.041-0.113; RMS differences between any two of these runs
    0.03-0.20 (seed 0, tested here: 0.116, 0.057 and 0.072 between them). Tolerance: each within 0.2 of the truth
    and within 0.25 of each other, i.e. the seed-to-seed spread with a margin. Ranks that stopped averaging
    gradients would also fail the weight-equality check (``check_in_sync``) at the end of the run.
    """
    problem = gaussian_benchmark_pair(2, eps=1.0, seed=0)
    rng = np.random.default_rng(0)
    np.save(tmp_path / "p.npy", problem.sample_source(8000, rng))
    np.save(tmp_path / "q.npy", problem.sample_target(8000, rng))
    (tmp_path / "run.toml").write_text(
        f'[data]\nsource = "{tmp_path / "p.npy"}"\ntarget = "{tmp_path / "q.npy"}"\n'
        '[solver]\nname = "egnot"\neps = 1.0\nhidden = [32, 32]\nbatch_size = 256\nlr = 0.003\nsample_steps = 5\n'
        "[fit]\nsteps = 300\nlog_every = 10\ncheckpoint_every = 100\n"
    )
    result = torchrun("-m", "neurot", "fit", str(tmp_path / "run.toml"), "--out", str(tmp_path / "two"))
    assert result.stdout.count("run written to") == 1
    steps = [json.loads(line)["step"] for line in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, *range(10, 301, 10)]
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoints").iterdir()) == ["step-000200", "step-000300"]

    fit_run(read_config(tmp_path / "run.toml"), tmp_path / "one", progress=False)
    x = torch.as_tensor(problem.sample_source(50, np.random.default_rng(5)), dtype=torch.float32)
    truth = problem.conditional_mean(x.numpy())
    means = {run: load_run(tmp_path / run).sample(x, n_per_x=1000, seed=0, steps=100).mean(1).numpy()
             for run in ("one", "two")}
    rms = {run: float(np.sqrt(np.mean((mean - truth) ** 2))) for run, mean in means.items()}
    assert rms["one"] < 0.2 and rms["two"] < 0.2, rms
    assert np.sqrt(np.mean((means["one"] - means["two"]) ** 2)) < 0.25
