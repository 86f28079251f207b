"""Property-based tests of the public API and the config parser: malformed shapes, dtypes, values and keys give a
``ValueError`` or ``TypeError`` (never an error from deep inside PyTorch, NumPy or the standard library); a fit on
finite data too extreme to train on (values overflowing float32 once squared) stops with the library's
:class:`~neurot.DivergenceError`."""

import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import neurot
from neurot.config import DEFAULT_CONFIG, merge_config, read_config
from neurot.runs import make_solver

CLEAR = (ValueError, TypeError)
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

junk = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(), st.text(max_size=5), st.binary(max_size=3), st.sampled_from(["mlp", "gmm", "ula", "cpu"]),
    st.lists(st.integers(-3, 300), max_size=3), st.tuples(st.floats(), st.integers()),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.just(object()),
)
option_names = {cls: sorted(f for f in cls.Config.__dataclass_fields__) + ["not_an_option"]
                for cls in (neurot.EgNOT, neurot.SFEUOT, neurot.OTFlow)}
dtypes = st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_,
                          np.complex64, np.str_, np.object_, "datetime64[s]"])
arrays = hnp.arrays(dtypes, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
                    elements=None, fill=st.nothing())
point_like = st.one_of(arrays, junk, arrays.map(lambda a: a.tolist()),
                       arrays.filter(lambda a: a.dtype.kind in "fiub").map(torch.as_tensor))


def construct(cls, options):
    eps = options.pop("eps", 1.0)
    return cls(**options) if cls is neurot.OTFlow else cls(eps, **options)


@FUZZ
@given(data=st.data(), cls=st.sampled_from([neurot.EgNOT, neurot.SFEUOT, neurot.OTFlow]))
def test_constructors_reject_bad_options_clearly(data, cls):
    names = data.draw(st.lists(st.sampled_from(option_names[cls]), min_size=1, max_size=3, unique=True))
    options = {name: data.draw(junk) for name in names}
    try:
        construct(cls, dict(options))
    except CLEAR:
        pass


TINY = {
    "egnot": lambda: neurot.EgNOT(eps=1.0, hidden=(4,), batch_size=4, langevin_steps=1, sample_steps=1, steps=3),
    "sfeuot": lambda: neurot.SFEUOT(eps=1.0, hidden=(4,), generator_hidden=(4,), batch_size=4),
    "otflow": lambda: neurot.OTFlow(hidden=(4,), classifier_hidden=(4,), ratio_hidden=(4,), batch_size=4,
                                    ode_steps=2, warmup_steps=1, reflow_steps=0, ratio_steps=0),
}
GOOD = np.random.default_rng(0).normal(size=(10, 2))


def spike(shape: tuple[int, ...], value: float) -> np.ndarray:
    """Zeros of ``shape`` (float32) with ``value`` in the last entry."""
    points = np.zeros(shape, np.float32)
    points.flat[-1] = value
    return points


@FUZZ
@given(kind=st.sampled_from(sorted(TINY)), source=point_like, target=point_like)
@example(kind="egnot", source=spike((3, 3, 1), 5e13), target=spike((2, 3, 1), 1e10))  # these two: found by the fuzzer
@example(kind="egnot", source=np.zeros((3, 3, 1), np.float16), target=spike((2, 3, 1), 5e9))
def test_fit_rejects_bad_data_clearly(kind, source, target):
    try:
        TINY[kind]().fit(source, target, steps=1)
    except (*CLEAR, neurot.DivergenceError):
        pass


@FUZZ
@given(kind=st.sampled_from(sorted(TINY)), returned=point_like)
def test_fit_rejects_a_callable_returning_junk_clearly(kind, returned):
    with pytest.raises(CLEAR):
        TINY[kind]().fit(lambda n: returned, GOOD, steps=1)


fit_arguments = st.fixed_dictionaries({}, optional={
    "steps": junk, "seed": junk, "device": junk, "callbacks": junk, "progress": junk, "checkpoint_every": junk,
    "resume": junk, "checkpoint_dir": junk,
})


@FUZZ
@given(kind=st.sampled_from(sorted(TINY)), arguments=fit_arguments)
def test_fit_rejects_bad_arguments_clearly(kind, arguments, tmp_path):
    if isinstance(arguments.get("steps"), int):
        arguments["steps"] = min(arguments["steps"], 2)
    if isinstance(arguments.get("checkpoint_dir"), str):
        arguments["checkpoint_dir"] = tmp_path / "checkpoints"
    try:
        TINY[kind]().fit(GOOD, GOOD, **arguments)
    except CLEAR:
        pass


@pytest.fixture(scope="module")
def fitted():
    return {kind: make().fit(GOOD, GOOD, steps=2) for kind, make in TINY.items()}


def methods(solver):
    calls = [("sample", {}), ("sample", {"n_per_x": 2}), ("sample_path", {"times": [0.0, 0.5]}),
             ("interpolate", {"t": 0.5})]
    if isinstance(solver, neurot.EgNOT):
        calls.append(("sample", {"steps": 1}))
    if isinstance(solver, neurot.SFEUOT):
        calls.append(("target_weight", {}))
    if isinstance(solver, neurot.OTFlow):
        calls += [("transport", {}), ("inverse", {}), ("trajectory", {"n_steps": 2}), ("log_density_ratio", {})]
    return calls


@FUZZ
@given(kind=st.sampled_from(sorted(TINY)), x=point_like, index=st.integers(0, 10))
def test_inference_rejects_bad_points_clearly(fitted, kind, x, index):
    solver = fitted[kind]
    name, kwargs = methods(solver)[index % len(methods(solver))]
    try:
        result = getattr(solver, name)(x, **kwargs)
    except CLEAR:
        return
    assert torch.isfinite(result).all()


def small(value):
    """Keeps integers small (a huge valid count would only make the test slow)."""
    return min(value, 3) if isinstance(value, int) and not isinstance(value, bool) else value


@FUZZ
@given(kind=st.sampled_from(sorted(TINY)), keyword=st.sampled_from(["n_per_x", "seed", "steps", "chunk_size"]),
       value=junk)
def test_inference_rejects_bad_keywords_clearly(fitted, kind, keyword, value):
    solver = fitted[kind]
    try:
        solver.sample(GOOD[:3], **{keyword: small(value)})
    except CLEAR:
        pass


@FUZZ
@given(kind=st.sampled_from(sorted(TINY)), method=st.sampled_from(["flow", "potential_value", "sample_path",
                                                                   "interpolate", "trajectory"]), a=junk, b=junk)
def test_other_inference_arguments(fitted, kind, method, a, b):
    solver = fitted[kind]
    if not hasattr(solver, method):
        return
    calls = {"flow": lambda: solver.flow(GOOD[:3], a, b), "potential_value": lambda: solver.potential_value(a, GOOD),
             "sample_path": lambda: solver.sample_path(GOOD[:3], small(a), seed=b),
             "interpolate": lambda: solver.interpolate(GOOD[:3], a, seed=b),
             "trajectory": lambda: solver.trajectory(GOOD[:3], small(a))}
    try:
        calls[method]()
    except CLEAR:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**65), 2**65) | st.floats() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)
table_keys = {"data": ["source", "target", "n_samples", "seed", "key", "time_course", "time_key", "source_time",
                       "target_time"],
              "solver": ["name", "eps", "tau", "hidden", "steps", "batch_size", "potential", "method"],
              "fit": ["steps", "seed", "device", "log_every", "checkpoint_every", "tensorboard", "holdout"]}
tables = st.fixed_dictionaries({}, optional={
    table: st.one_of(json_values, st.dictionaries(st.sampled_from(keys + ["bogus"]), json_values, max_size=3))
    for table, keys in table_keys.items()
})


@FUZZ
@given(given_config=st.one_of(json_values, tables))
def test_config_merging_rejects_malformed_configs_clearly(given_config):
    try:
        config = merge_config(copy.deepcopy(DEFAULT_CONFIG), given_config)
        make_solver(config["solver"])
    except CLEAR:
        pass


@FUZZ
@given(text=st.one_of(st.text(max_size=60), st.binary(max_size=60).map(lambda b: b.decode("latin-1"))),
       suffix=st.sampled_from([".toml", ".json", ".txt"]))
def test_read_config_rejects_malformed_files_clearly(text, suffix, tmp_path):
    path = tmp_path / f"config{suffix}"
    path.write_bytes(text.encode("utf-8", "surrogatepass") if suffix != ".txt" else text.encode("latin-1",
                                                                                               "replace"))
    try:
        read_config(path)
    except CLEAR:
        pass


def test_unreadable_config_files_are_clear_errors(tmp_path):
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00")
    for path in (tmp_path / "binary.toml", tmp_path):
        with pytest.raises(ValueError, match="not a UTF-8 text file"):
            read_config(path)


def test_values_in_known_tables_are_checked():
    for table, key, value, message in [("data", "n_samples", 0, "n_samples"), ("data", "source", 3, "source"),
                                       ("fit", "steps", 1.5, "steps"), ("fit", "tensorboard", "yes", "tensorboard"),
                                       ("fit", "device", ["cpu"], "device"), ("fit", "log_every", -1, "log_every"),
                                       ("data", "key", 1, "key"), ("data", "source_time", "day2", "source_time"),
                                       ("data", "target_time", math.inf, "target_time")]:
        with pytest.raises(CLEAR, match=message):
            merge_config(copy.deepcopy(DEFAULT_CONFIG), {table: {key: value}})
    assert math.isfinite(merge_config(copy.deepcopy(DEFAULT_CONFIG), {"fit": {"steps": 5}})["fit"]["steps"])
