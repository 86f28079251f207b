"""Checkpoints: the state format, atomic writes, corrupt files, and exact resume of every solver."""

import json

import numpy as np
import pytest
import torch

import neurot
from neurot.checkpoint import (
    STATE_JSON,
    STATE_TENSORS,
    checkpoint_steps,
    flatten,
    latest_checkpoint,
    read_checkpoint,
    unflatten,
    write_checkpoint,
)

TINY = {
    "egnot": lambda: neurot.EgNOT(eps=0.5, hidden=(16, 16), batch_size=32, buffer_size=100, langevin_steps=3),
    "egnot_jumps": lambda: neurot.EgNOT(eps=0.5, hidden=(16, 16), batch_size=32, buffer_size=100, langevin_steps=3,
                                        jump_every=2, jump_points=50),
    "lightsb": lambda: neurot.LightSB(eps=0.5, n_components=3, batch_size=32),
    "sfeuot": lambda: neurot.SFEUOT(eps=0.5, tau=1.0, hidden=(16, 16), generator_hidden=(16,), batch_size=32),
    "otflow": lambda: neurot.OTFlow(hidden=(16, 16), classifier_hidden=(8,), ratio_hidden=(8,), batch_size=32,
                                    ode_steps=3, warmup_steps=4, ratio_steps=2, refine_steps=12, reflow_steps=0),
    # The interruption falls in the warm start, whose pool of coupled pairs gets a fresh block every step.
    "otflow_warm_start": lambda: neurot.OTFlow(hidden=(16, 16), batch_size=32, ode_steps=3, warmup_steps=14,
                                               reflow_steps=2, ratio_steps=2, coupling_size=16, coupled_pairs=64,
                                               pair_reuse=1),
    # The interruption falls in the reflow, whose pairs (x, T(x)) were drawn at its start (step 7).
    "otflow_reflow": lambda: neurot.OTFlow(hidden=(16, 16), batch_size=32, ode_steps=3, warmup_steps=4,
                                           reflow_steps=12, ratio_steps=2, reflow_pairs=64),
}
STEPS = 18  # OT flow: warm start 1-4, density ratio 5-6, so an interruption at step 10 falls in the refinement


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(500, 2)), rng.normal(size=(500, 2)) * 0.5 + 1


class Crash(Exception):
    pass


def crash_at(step):
    def callback(solver, current, metrics):
        if current == step:
            raise Crash
    return callback


def test_state_tree_round_trip_keeps_int_keys_tuples_and_tensors():
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), betas=(0.5, 0.9))
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    state = {"optimizer": optimizer.state_dict(), "n": 3, "name": "x", "none": None, "flag": True}
    tree, tensors = flatten(state)
    json.dumps(tree)
    restored = unflatten(json.loads(json.dumps(tree)), tensors)
    assert restored["optimizer"]["param_groups"][0]["betas"] == (0.5, 0.9)
    assert set(restored["optimizer"]["state"]) == {0, 1}
    assert torch.equal(restored["optimizer"]["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    assert {k: restored[k] for k in ("n", "name", "none", "flag")} == {"n": 3, "name": "x", "none": None, "flag": True}
    with pytest.raises(TypeError, match="cannot checkpoint a object"):
        flatten({"bad": object()})


def test_writes_are_atomic_and_only_the_newest_two_are_kept(tmp_path):
    for step in (10, 20, 30):
        write_checkpoint(tmp_path, step, {"w": torch.full((2,), float(step))}, {"state": flatten({})[0]})
    assert [s for s, _ in checkpoint_steps(tmp_path)] == [20, 30]
    assert latest_checkpoint(tmp_path).name == "step-000030"
    assert not list(tmp_path.glob("*.tmp"))
    (tmp_path / "step-000040.abc.tmp").mkdir()  # a write cut short by a crash is ignored
    assert latest_checkpoint(tmp_path).name == "step-000030"


@pytest.mark.parametrize("damage", ["truncate", "garbage_json", "missing_tensor_file"])
def test_corrupt_checkpoint_is_a_clear_error_and_the_previous_one_is_kept(tmp_path, damage):
    tree, tensors = flatten({"w": torch.ones(1000)})
    for step in (1, 2):
        write_checkpoint(tmp_path, step, tensors, {"state": tree})
    newest = tmp_path / "step-000002"
    if damage == "truncate":
        data = (newest / STATE_TENSORS).read_bytes()
        (newest / STATE_TENSORS).write_bytes(data[: len(data) // 2])
    elif damage == "garbage_json":
        (newest / STATE_JSON).write_text("{not json")
    else:
        (newest / STATE_TENSORS).unlink()
    with pytest.raises(ValueError, match=r"step-000002 is truncated or corrupt .*previous checkpoint .*step-000001"):
        read_checkpoint(newest)
    state, _ = read_checkpoint(tmp_path / "step-000001")
    assert torch.equal(state["w"], torch.ones(1000))


@pytest.mark.parametrize("kind", sorted(TINY))
def test_killed_and_resumed_run_ends_with_the_same_weights(kind, data, tmp_path):
    """Exact on CPU with a fixed seed: weights, history and the adapted step size are bitwise those of a run
    that was never interrupted (checkpoint every 4 steps, crash at step 10, resume from step 8)."""
    uninterrupted = TINY[kind]().fit(*data, steps=STEPS, seed=3)
    with pytest.raises(Crash):
        TINY[kind]().fit(*data, steps=STEPS, seed=3, checkpoint_dir=tmp_path, checkpoint_every=4,
                         callbacks=[crash_at(10)])
    assert latest_checkpoint(tmp_path).name == "step-000008"
    resumed = TINY[kind]().fit(*data, steps=STEPS, seed=3, checkpoint_dir=tmp_path, checkpoint_every=4, resume=True)
    for name, module in uninterrupted._modules().items():
        for key, value in module.state_dict().items():
            assert torch.equal(value, resumed._modules()[name].state_dict()[key]), (name, key)
    assert resumed.history == uninterrupted.history
    assert resumed._extra_state() == uninterrupted._extra_state()
    assert latest_checkpoint(tmp_path).name == f"step-{STEPS:06d}"


def test_resume_without_a_checkpoint_starts_from_scratch(data, tmp_path):
    fresh = TINY["lightsb"]().fit(*data, steps=5, seed=0)
    resumed = TINY["lightsb"]().fit(*data, steps=5, seed=0, checkpoint_dir=tmp_path / "none", resume=True)
    assert resumed.history == fresh.history


def test_resume_refuses_another_run(data, tmp_path):
    TINY["lightsb"]().fit(*data, steps=4, seed=0, checkpoint_dir=tmp_path, checkpoint_every=2)
    with pytest.raises(ValueError, match="another run: total = 4 there, 6 here"):
        TINY["lightsb"]().fit(*data, steps=6, seed=0, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="another run: solver = 'lightsb' there, 'sfeuot' here"):
        TINY["sfeuot"]().fit(*data, steps=4, seed=0, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        TINY["lightsb"]().fit(*data, steps=4, resume=True)


def test_a_callback_stop_is_checkpointed(data, tmp_path):
    TINY["lightsb"]().fit(*data, steps=10, seed=0, checkpoint_dir=tmp_path, checkpoint_every=4,
                            callbacks=[lambda solver, step, metrics: step == 6])
    assert [s for s, _ in checkpoint_steps(tmp_path)] == [4, 6]


@pytest.mark.parametrize("damage", ["truncate_weights", "garbage_config", "wrong_shapes"])
def test_a_damaged_model_directory_is_a_clear_error(damage, data, tmp_path):
    solver = TINY["lightsb"]().fit(*data, steps=2)
    solver.save(tmp_path / "model")
    weights, config = tmp_path / "model" / "weights.safetensors", tmp_path / "model" / "config.json"
    if damage == "truncate_weights":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "garbage_config":
        config.write_text('["not", "a", "model"]')
    else:
        meta = json.loads(config.read_text())
        meta["config"]["n_components"] = 7
        config.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"weights.safetensors is not a readable|not a neurot model|does not fit"):
        neurot.LightSB.load(tmp_path / "model")


def test_a_fresh_run_replaces_the_checkpoints_of_an_earlier_one(data, tmp_path):
    TINY["lightsb"]().fit(*data, steps=8, seed=0, checkpoint_dir=tmp_path, checkpoint_every=4)
    with pytest.raises(Crash):
        TINY["lightsb"]().fit(*data, steps=8, seed=0, checkpoint_dir=tmp_path, checkpoint_every=2,
                                callbacks=[crash_at(3)])
    assert [s for s, _ in checkpoint_steps(tmp_path)] == [2]
