"""What every solver shares: option handling, the training loop, saving and loading.

The loop handles seeding, device, progress, callbacks, history, checkpoints and resuming, the divergence guard and
data-parallel training. A solver subclass supplies a config dataclass and the hooks ``_build``, ``_setup``,
``_train_step`` and ``_modules`` (optionally ``_extra_state``, ``_training_state`` and ``_back_off``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar, Self

import torch
from torch import nn
from tqdm.auto import tqdm

from neurot import __version__, distributed
from neurot._validation import PointShape, as_points, check_device, check_int, check_keys, check_probability
from neurot.benchmarks.metrics import half_energy_distance, two_sample_floor
from neurot.bridges import brownian_bridge, check_times
from neurot.checkpoint import flatten, latest_checkpoint, read_checkpoint, remove_checkpoints, write_checkpoint
from neurot.costs import quadratic
from neurot.data import DataSource, as_source
from neurot.io import CONFIG_FILE, WEIGHTS_FILE, read_json, read_tensors, write_json, write_tensors
from neurot.optim import Schedule
from neurot.stopping import Stopping

logger = logging.getLogger(__name__)

#: ``callback(solver, step, metrics) -> bool | None``; returning True stops training after that step.
Callback = Callable[["Solver", int, dict[str, float]], "bool | None"]


class NotFittedError(RuntimeError):
    """A solver method that needs a trained model was called before ``fit`` or ``load``."""


class DivergenceError(FloatingPointError):
    """Training produced NaN or Inf. The message names the step and the quantity and says what to change."""

    def __init__(self, solver: Solver, step: int, quantity: str, checkpoint_dir: str | Path | None) -> None:
        kept = (f" The last good checkpoint is kept in {checkpoint_dir} (resume from it after changing the options)."
                if checkpoint_dir is not None and latest_checkpoint(checkpoint_dir) else "")
        super().__init__(f"{type(solver).__name__} training diverged at step {step}: {quantity}.{kept} "
                         f"Try: {solver.divergence_advice}.")
        self.step, self.quantity = step, quantity


class ProgressLines:
    """Progress of a fit as log records for runs without a terminal (batch jobs, redirected output).

    One INFO record on logger ``neurot.solvers.base`` every ``every`` seconds and at the last step: the step, the
    rate in iterations per second, the time left at that rate and the loss.
    """

    def __init__(self, name: str, first: int, total: int, every: float = 30.0) -> None:
        self.name, self.first, self.total, self.every = name, first, total, every
        self.started = self.last = time.perf_counter()

    def update(self, step: int, metrics: dict[str, float]) -> None:
        """Log step ``step`` (done) with its ``metrics`` when ``every`` seconds have passed or it is the last."""
        now = time.perf_counter()
        if now - self.last < self.every and step != self.total:
            return
        self.last = now
        rate = (step - self.first) / max(now - self.started, 1e-9)
        left = (self.total - step) / rate
        loss = f", loss {metrics['loss']:.4g}" if "loss" in metrics else ""
        logger.info("%s fit: step %d/%d (%.0f%%), %.3g it/s, %s left%s", self.name, step, self.total,
                    100 * step / self.total, rate, _duration(left), loss)


def _duration(seconds: float) -> str:
    """``seconds`` as ``"42 s"``, ``"7.5 min"`` or ``"2.1 h"``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


class Solver:
    """Base class of the OT solvers: ``__init__`` stores options, ``fit`` trains and returns ``self``."""

    name: ClassVar[str]
    Config: ClassVar[type]
    #: False for solvers that take points with several axes (images ``[N, C, H, W]``), not only ``[N, D]``.
    flat_data: ClassVar[bool] = True
    #: What to change when training diverges (shown by :class:`DivergenceError`).
    divergence_advice: ClassVar[str] = "a lower learning rate (lr)"

    def __init__(self, **options: Any) -> None:
        fields = {f.name for f in dataclasses.fields(self.Config)}
        check_keys(f"{type(self).__name__} options", options, fields)
        self.config = self.Config(**options)
        self.history: list[dict[str, float]] = []
        self.dim: PointShape | None = None  # shape of one source point: D, or e.g. (C, H, W)
        self.device = torch.device("cpu")
        self.step = 0
        self.schedule = Schedule(1)
        self.stopping: Stopping | None = None

    # -- training ---------------------------------------------------------------------------------------------
    def fit(
        self,
        source: Any,
        target: Any,
        *,
        steps: int | None = None,
        seed: int | None = None,
        device: str | torch.device | None = None,
        callbacks: Iterable[Callback] | None = None,
        progress: bool | str | None = None,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every: int = 200,
        resume: bool = False,
        stop: Stopping | str | None = "auto",
    ) -> Self:
        """Train on samples of the source ``P`` and target ``Q``; returns ``self``.

        ``source``/``target``: tensors or arrays ``[N, D]``, callables ``n -> [n, D]``, or the sources
        :meth:`check_fit` returns. ``steps`` overrides the configured number of training iterations. Same ``seed``,
        inputs and device give the same result.
        ``progress``: True a progress bar, ``"lines"`` a log line with the rate and the time left every 30 s
        (logger ``neurot.solvers.base`` at INFO), False neither; None (default) a bar on a terminal, else lines.

        ``checkpoint_dir``: write a checkpoint (:mod:`neurot.checkpoint`) there every ``checkpoint_every`` steps, at
        the last step and when a callback stops training (a fresh run first deletes the checkpoints there).
        ``resume``: continue from the newest checkpoint there (from scratch when there is none); with the same
        inputs and seed the result is the one of an uninterrupted run. Non-finite losses, metrics or weights raise
        :class:`DivergenceError`; no checkpoint is written after a bad step. Inside a ``torch.distributed`` process
        group of several processes training is data-parallel (:mod:`neurot.distributed`).

        ``stop``: ``"auto"`` (default): the solver's rule (:meth:`_auto_stop`; EgNOT's MLP potential uses
        ``Stopping()`` when the fit has more than 3000 steps, other solvers run every step); a
        :class:`neurot.stopping.Stopping` rule (the number of steps is then the most the fit runs: it ends with a
        decay once the plan has settled; docs/math.md section 9); or None to run every step. A fit whose plan never
        settles is the fit without a rule, draw for draw.
        """
        source_data, target_data = self.check_fit(source, target, steps=steps, seed=seed, device=device,
                                                  checkpoint_every=checkpoint_every, stop=stop)
        self.device = check_device("device", device)
        callbacks = self._check_callbacks(callbacks)
        if resume and checkpoint_dir is None:
            raise ValueError("resume=True needs checkpoint_dir, the directory holding the checkpoints")
        # The data lives on the solver's device from here on, as do the generator and every buffer built from it.
        source_data, target_data = source_data.to(self.device), target_data.to(self.device)
        total = steps if steps is not None else self.config.steps
        seed = 0 if seed is None else seed
        self.schedule = Schedule(total)
        self.stopping = self._stop_rule(stop, total)
        if self.stopping is not None:  # its own stream: the training draws do not depend on the rule
            points = target_data.sample(self.stopping.points, torch.Generator(self.device).manual_seed(seed))
            self.stopping.start(points)
        self.generator = torch.Generator(self.device).manual_seed(seed)
        full_config = self.config
        try:
            self.config = distributed.local_config(self.config)
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                torch.manual_seed(seed)
                self._setup(distributed.shard(source_data), distributed.shard(target_data))
            self.history, self.step = [], 0
            found = latest_checkpoint(checkpoint_dir) if resume else None
            if checkpoint_dir is not None and not resume and distributed.is_main():
                remove_checkpoints(checkpoint_dir)
            if found is not None:
                self._restore(*read_checkpoint(found), total=total, seed=seed)
            distributed.check_same_step(self.step, self.device)
            distributed.split_stream(self.generator, seed, self.step)
            with distributed.data_parallel(self, self._modules()):
                self._loop(total, seed, callbacks, progress, checkpoint_dir, checkpoint_every)
        finally:
            self.config = full_config
        return self

    def check_fit(
        self, source: Any, target: Any, *, steps: int | None = None, seed: int | None = None,
        device: str | torch.device | None = None, checkpoint_every: int = 200, stop: Any = "auto",
    ) -> tuple[DataSource, DataSource]:
        """Check the arguments of :meth:`fit` as it does, without training; returns the two data sources.

        Raises ``ValueError`` or ``TypeError`` for what ``fit`` would reject (non-finite points, mismatched
        dimensions, bad numbers of steps, an unknown device), so a caller can validate before it writes anything.
        """
        check_int("steps", steps, allow_none=True)
        check_int("seed", seed, minimum=0, allow_none=True)
        check_int("checkpoint_every", checkpoint_every)
        check_device("device", device)
        if not (stop is None or stop == "auto" or isinstance(stop, Stopping)):
            raise TypeError(f"stop must be 'auto', None or a neurot.stopping.Stopping, got {stop!r}")
        if isinstance(stop, Stopping) and type(self).log_potential is Solver.log_potential:
            raise ValueError(f"{type(self).__name__} trains in fixed phases and cannot stop early: use stop=None")
        source_data = as_source("source", source, flat=self.flat_data)
        return source_data, as_source("target", target, dim=self._target_dim(source_data), flat=self.flat_data)

    def _stop_rule(self, stop: Stopping | str | None, total: int) -> Stopping | None:
        """The rule of a fit of at most ``total`` steps: ``stop``, or for ``"auto"`` the default if it can end early.

        The default (:meth:`_auto_stop`) is ``Stopping()``.
        """
        if stop != "auto":
            return stop
        rule = Stopping()
        return rule if self._auto_stop() and total > (1 + rule.decay) * rule.min_steps else None

    def _auto_stop(self) -> bool:
        """Whether ``fit(stop="auto")`` uses a :class:`~neurot.stopping.Stopping` rule (False unless a solver says)."""
        return False

    def _loop(self, total: int, seed: int, callbacks: list[Callback], progress: bool | str | None,
              checkpoint_dir: str | Path | None, checkpoint_every: int) -> None:
        """Steps ``self.step + 1 .. total``: train, check, record, call back, checkpoint.

        Progress (``fit``'s ``progress``): True a bar, ``"lines"`` :class:`ProgressLines` (log records at INFO,
        which ``neurot`` prints), False nothing; None a bar when standard error is a terminal, else lines.
        """
        terminal = sys.stderr.isatty()
        show = (progress is True or (progress is None and terminal)) and distributed.is_main()
        lines = ProgressLines(self.name, self.step, total) if progress == "lines" or (
            progress is None and not terminal) else None
        with tqdm(total=total, initial=self.step, desc=f"{self.name} fit", disable=not show, leave=False) as bar:
            for step in range(self.step + 1, self.schedule.end + 1):
                self.step = step
                metrics = {"step": step, **self._checked_step(step, total, checkpoint_dir)}
                if self.stopping is not None:
                    metrics |= self.stopping.check(self, step)
                    if bar.total != self.schedule.end:  # the rule has set the fit's end
                        bar.total = self.schedule.end
                        bar.refresh()
                        if lines is not None:
                            lines.total = self.schedule.end
                self.history.append(metrics)
                bar.update()
                if lines is not None and distributed.is_main():
                    lines.update(step, metrics)
                if step % 50 == 0 or step == total:
                    bar.set_postfix({k: f"{v:.3g}" for k, v in metrics.items() if k in ("loss", "acceptance")})
                stop = distributed.any_rank(any([bool(c(self, step, metrics)) for c in callbacks]), self.device)
                last = step == self.schedule.end
                if checkpoint_dir is not None and (step % checkpoint_every == 0 or last or stop):
                    self._write_checkpoint(checkpoint_dir, total, seed)
                if stop or last:
                    break
        distributed.check_in_sync(self._trained_modules(), self.device)

    def _checked_step(self, step: int, total: int, checkpoint_dir: str | Path | None) -> dict[str, float]:
        """One training step with the divergence guard; ``_back_off`` may make a failed step safer and redo it."""
        attempt = 0
        while True:
            try:
                metrics = self._train_step(step, total)
                break
            except FloatingPointError as error:
                if not self._back_off(error, attempt):
                    raise DivergenceError(self, step, str(error), checkpoint_dir) from error
                attempt += 1
        metrics = distributed.mean_metrics(metrics, self.device)
        bad = [f"{k} = {v}" for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            raise DivergenceError(self, step, ", ".join(bad), checkpoint_dir)
        return metrics

    def _back_off(self, error: FloatingPointError, attempt: int) -> bool:
        """After the ``attempt``-th failure of a step: make it safer (e.g. a smaller step size); True redoes it."""
        return False

    @staticmethod
    def _check_callbacks(callbacks: Any) -> list[Callback]:
        if callbacks is None:
            return []
        if not isinstance(callbacks, Iterable) or isinstance(callbacks, (str, bytes)):
            raise TypeError(f"callbacks must be a list of callables, got {type(callbacks).__name__}")
        callbacks = list(callbacks)
        if any(not callable(c) for c in callbacks):
            raise TypeError("callbacks must be callables callback(solver, step, metrics)")
        return callbacks

    def _target_dim(self, source: DataSource) -> PointShape | None:
        """Required point shape of the target given the source (None: any); the quadratic cost needs equal ones."""
        return source.point_shape

    def _setup(self, source: DataSource, target: DataSource) -> None:
        raise NotImplementedError

    def _train_step(self, step: int, total: int) -> dict[str, float]:
        raise NotImplementedError

    def _modules(self) -> dict[str, nn.Module]:
        """The trained networks, by name (saved as ``name.param`` tensors)."""
        raise NotImplementedError

    def log_potential(self, y: torch.Tensor) -> torch.Tensor:
        """``f(y) / eps`` at target points ``y [n, ...]``, ``[n]``.

        The learned term of the plan's conditional log-density ``log pi(y | x) = (f(y) - c(x, y)) / eps - log Z(x)``,
        whose change between two checks a :class:`~neurot.stopping.Stopping` rule reads. Solvers that define it take
        their learning rate from ``self.schedule`` in every training step, so that the rule can end a fit with a decay;
        the others cannot stop early.
        """
        raise NotImplementedError

    def _extra_state(self) -> dict[str, Any]:
        """JSON-serialisable learned state besides the weights (e.g. an adapted step size)."""
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`_extra_state` (called before :meth:`_build` on load)."""

    def _training_state(self) -> dict[str, Any]:
        """What training changes besides the weights of ``_modules``, for checkpoints.

        Objects with ``state_dict`` and ``load_state_dict``: optimizers, replay buffers, auxiliary networks.
        """
        return {}

    def _trained_modules(self) -> dict[str, nn.Module]:
        """The networks of ``_modules``, without a data-parallel wrapper."""
        return {name: distributed.unwrap(module) for name, module in self._modules().items()}

    def _write_checkpoint(self, directory: str | Path, total: int, seed: int) -> None:
        """Write the full training state at ``self.step`` (rank 0 only); non-finite weights are never written."""
        modules = self._trained_modules()
        for name, module in modules.items():
            if not all(torch.isfinite(p).all() for p in module.parameters()):
                raise DivergenceError(self, self.step, f"the weights of the {name} network", directory)
        distributed.check_in_sync(modules, self.device)
        if not distributed.is_main():
            return
        state = {
            "modules": {name: module.state_dict() for name, module in modules.items()},
            "training": {name: part.state_dict() for name, part in self._training_state().items()},
            "generator": self.generator.get_state(),
        }
        tree, tensors = flatten(state)
        meta = {"solver": self.name, "neurot_version": __version__, "dim": self.dim, "step": self.step,
                "total": total, "seed": seed, "world_size": distributed.world_size(), "state": tree,
                "extra": self._extra_state(), "history": self.history, "schedule": self.schedule.state_dict(),
                "stopping": None if self.stopping is None else self.stopping.state_dict()}
        write_checkpoint(directory, self.step, tensors, meta)

    def _restore(self, state: dict[str, Any], meta: dict[str, Any], *, total: int, seed: int) -> None:
        """Load a checkpoint's state into the freshly set-up solver (same data, seed and number of steps)."""
        dim = list(self.dim) if isinstance(self.dim, tuple) else self.dim  # as JSON stores it
        expected = {"solver": self.name, "dim": dim, "total": total, "seed": seed}
        wrong = {k: (meta.get(k), v) for k, v in expected.items() if meta.get(k) != v}
        had_rule, has_rule = meta.get("stopping") is not None, self.stopping is not None
        if had_rule != has_rule:
            wrong["stop"] = ("a rule" if had_rule else None, "a rule" if has_rule else None)
        if wrong:
            raise ValueError("the checkpoint belongs to another run: " + ", ".join(
                f"{k} = {had!r} there, {want!r} here" for k, (had, want) in wrong.items()))
        try:
            for name, module in self._trained_modules().items():
                module.load_state_dict(state["modules"][name])
            for name, part in self._training_state().items():
                saved = state["training"][name]
                # Optimizers move their state to their parameters' devices; other parts take tensors as given.
                part.load_state_dict(saved if isinstance(part, torch.optim.Optimizer) else _to(saved, self.device))
            self.generator.set_state(state["generator"])
        except (KeyError, RuntimeError, TypeError) as error:
            raise ValueError(f"the checkpoint does not match this {type(self).__name__}: {error}") from error
        self._load_extra_state(meta["extra"])
        self.step, self.history = int(meta["step"]), list(meta["history"])
        if "schedule" in meta:
            self.schedule.load_state_dict(meta["schedule"])
        if self.stopping is not None:
            self.stopping.load_state_dict(meta["stopping"])

    def _build(self, dim: PointShape) -> None:
        """Create untrained networks for source points of shape ``dim`` (used by ``_setup`` and ``load``)."""
        raise NotImplementedError

    def _points(self, name: str, x: Any) -> torch.Tensor:
        """Validate query points ``x [n, D]`` (or ``[n, *dim]``) of a fitted solver and move them to its device."""
        self._check_fitted()
        return as_points(name, x, dim=self.dim, flat=self.flat_data).to(self.device)

    def _sampling_generator(self, seed: int | None) -> torch.Generator:
        """A generator on the solver's device, seeded by ``seed`` (validated) or at random when None."""
        check_int("seed", seed, minimum=0, allow_none=True)
        generator = torch.Generator(self.device)
        return generator.manual_seed(seed if seed is not None else int(torch.randint(2**62, ())))

    def _check_fitted(self) -> None:
        if self.dim is None:
            name = type(self).__name__
            raise NotFittedError(f"{name} is not fitted: call fit(...) or {name}.load(...)")

    # -- paths of the plan and a held-out check ---------------------------------------------------------------
    def _bridge_eps(self) -> float:
        """Variance per unit time of the Brownian bridges between a point and its draw (the entropic ``eps``)."""
        return self.config.eps

    @torch.no_grad()
    def sample_path(self, x: Any, times: Any, *, seed: int | None = None, **sampling: Any) -> torch.Tensor:
        """Paths of the plan from ``x [M, D]`` at ``times`` (``k`` non-decreasing numbers in [0, 1]): ``[k, M, D]``.

        Entropic solvers: one draw ``y ~ pi(. | x)`` per row (``sampling`` options go to :meth:`sample`), then the
        Brownian bridge from ``x`` to ``y`` (variance ``eps t (1 - t)``; :mod:`neurot.bridges`), one path per row.
        """
        points = self._points("x", x)
        grid = check_times(times, self.device)
        generator = self._sampling_generator(seed)
        y = self.sample(points, seed=_child_seed(generator), **sampling)
        return brownian_bridge(points, y, grid, self._bridge_eps(), generator)

    def interpolate(self, x: Any, t: float, *, seed: int | None = None, **sampling: Any) -> torch.Tensor:
        """One draw of ``X_t`` given ``X_0 = x`` for each row of ``x [M, D]``: ``[M, D]`` (``t`` in ``[0, 1]``)."""
        check_probability("t", t)
        return self.sample_path(x, [t], seed=seed, **sampling)[0]

    def evaluate(self, x: Any, y: Any, *, intermediate: dict[float, Any] | None = None, seed: int | None = None,
                 **sampling: Any) -> dict[str, float]:
        """Held-out check of the plan's target marginal: how far the pushforward of ``x`` lands from ``y``.

        ``x [M, D]``: held-out source points; ``y [N, D]``: held-out target points (``N >= 4``). Returns
        ``energy``, the energy distance between the pushforward (one draw per row of ``x``) and ``y`` in the
        single-cell convention (:func:`neurot.benchmarks.metrics.half_energy_distance`: about 0 for two samples of
        one distribution), and ``floor``, the same between two random halves of ``y``: what a perfect plan scores on
        that many points, up to noise. ``intermediate`` maps times ``t`` in ``(0, 1)`` to observed points
        ``[N_t, D]`` (a time course); each adds ``energy_t=<t>``, the score of ``X_t`` (:meth:`sample_path`).
        """
        intermediate = dict(intermediate or {})
        targets = {float(t): self._flat_points(f"intermediate[{t}]", v) for t, v in intermediate.items()}
        held_out = self._flat_points("y", y)
        if len(held_out) < 4:
            raise ValueError(f"y must hold at least 4 points for a held-out check, got {len(held_out)}")
        generator = self._sampling_generator(seed)
        times = sorted(targets)
        if times:
            path = self.sample_path(x, [*times, 1.0], seed=_child_seed(generator), **sampling).flatten(2).cpu()
        else:  # no bridge needed: also for costs without one
            path = self.sample(x, seed=_child_seed(generator), **sampling).flatten(1).cpu()[None]
        scores = {"energy": half_energy_distance(path[-1], held_out),
                  "floor": two_sample_floor(held_out, _child_seed(generator))}
        scores |= {f"energy_t={t:g}": half_energy_distance(path[k], targets[t]) for k, t in enumerate(times)}
        return scores

    @torch.no_grad()
    def conditional_mean(self, x: Any, *, n_samples: int = 100, seed: int | None = None,
                         **sampling: Any) -> torch.Tensor:
        """``E[y | x]`` under the plan for each row of ``x [M, ...]``: the mean of ``n_samples`` draws, ``[M, ...]``.

        Its Monte-Carlo error is ``sqrt(Var(y | x) / n_samples)`` per coordinate (0 for a deterministic plan);
        ``sampling`` options go to :meth:`sample`. This is the barycentric projection of the plan.
        """
        check_int("n_samples", n_samples)
        return self.sample(x, n_per_x=n_samples, seed=seed, **sampling).mean(1)

    @torch.no_grad()
    def transport_cost(self, x: Any, *, n_samples: int = 100, seed: int | None = None,
                       **sampling: Any) -> torch.Tensor:
        """``E[c(x, y) | x]`` under the plan for each row of ``x [M, ...]`` (``n_samples`` draws each): ``[M]``.

        Its mean over a sample of ``P`` estimates the plan's transport cost ``E_pi[c]`` (without the entropy).
        ``c`` is the solver's cost, ``1/2 |x - y|^2`` unless it has another.
        """
        check_int("n_samples", n_samples)
        points = self._points("x", x)
        y = self.sample(points, n_per_x=n_samples, seed=seed, **sampling)           # [M, n_samples, ...]
        cost = getattr(self, "cost", quadratic)
        return cost(points.repeat_interleave(n_samples, dim=0), y.flatten(0, 1)).view(len(points), n_samples).mean(1)

    @staticmethod
    def _flat_points(name: str, points: Any) -> torch.Tensor:
        """Validated points ``[N, ...]`` as a CPU tensor ``[N, prod(...)]`` for distances."""
        return as_points(name, points, flat=False).flatten(1).cpu()

    # -- persistence --------------------------------------------------------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        """The options as plain JSON values; a user's network or callable (e.g. a cost) is recorded as ``"custom"``."""
        values = {f.name: getattr(self.config, f.name) for f in dataclasses.fields(self.config)}
        return {k: "custom" if isinstance(v, nn.Module) or callable(v) else list(v) if isinstance(v, tuple) else v
                for k, v in values.items()}

    def save(self, path: str | Path) -> Path:
        """Write ``path/config.json`` and ``path/weights.safetensors``; returns the directory."""
        self._check_fitted()
        path = Path(path)
        modules = self._modules().items()
        tensors = {f"{name}.{key}": value for name, module in modules for key, value in module.state_dict().items()}
        write_tensors(path / WEIGHTS_FILE, tensors)
        write_json(path / CONFIG_FILE, {
            "solver": self.name,
            "neurot_version": __version__,
            "dim": self.dim,
            "config": self.config_dict(),
            "state": self._extra_state(),
        })
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device | None = None, **modules: nn.Module) -> Self:
        """Load a solver written by :meth:`save`. Custom networks or costs used in training are passed by name."""
        path = Path(path)
        meta = read_json(path / CONFIG_FILE)
        described = isinstance(meta, dict) and isinstance(meta.get("config"), dict)
        if not (described and isinstance(meta.get("dim"), int | list)):
            raise ValueError(f"{path / CONFIG_FILE} is not a neurot model description (solver, dim, config)")
        if meta.get("solver") != cls.name:
            raise ValueError(f"{path} holds a {meta.get('solver')!r} model, not {cls.name!r}")
        config = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()}
        missing = sorted(k for k, v in config.items() if v == "custom" and k not in modules)
        if missing:
            example = f"load(path, {missing[0]}=network)"
            raise ValueError(f"{path} was trained with custom networks or costs {missing}: pass them, e.g. {example}")
        solver = cls(**{**config, **modules})
        solver.device = check_device("device", device)
        solver._load_extra_state(meta.get("state", {}))
        dim = meta["dim"]
        solver._build(tuple(dim) if isinstance(dim, list) else int(dim))
        tensors = read_tensors(path / WEIGHTS_FILE, solver.device)
        for name, module in solver._modules().items():
            prefix = f"{name}."
            try:
                module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
            except RuntimeError as error:
                message = f"{path / WEIGHTS_FILE} does not fit the {name} network of its config: {error}"
                raise ValueError(message) from error
        return solver


def draw_in_chunks(x: torch.Tensor, repeats: int, chunk_size: int,
                   draw: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``draw`` over the rows of ``x [M, ...]``, each repeated ``repeats`` times, at most ``chunk_size`` rows at once.

    ``draw(sources [n, ...]) -> [n, ...]``; returns ``[M * repeats, ...]`` in row order (``repeats`` consecutive rows
    per point of ``x``). Memory: the output and one chunk's work, not a repeated copy of ``x`` or a list of chunks.
    """
    total, out = len(x) * repeats, None
    for start in range(0, total, chunk_size):
        rows = torch.arange(start, min(start + chunk_size, total), device=x.device) // repeats
        y = draw(x[rows])
        if out is None:
            out = y.new_empty((total, *y.shape[1:]))
        out[start:start + len(y)] = y
    return out


def _child_seed(generator: torch.Generator) -> int:
    """A seed drawn from ``generator``, for a call that takes ``seed=`` (so one seed fixes every draw)."""
    return int(torch.randint(2**62, (), generator=generator, device=generator.device))


def _to(tree: Any, device: torch.device) -> Any:
    """``tree`` (nested dicts/lists of tensors) with its tensors on ``device``."""
    if isinstance(tree, torch.Tensor):
        return tree.to(device)
    if isinstance(tree, dict):
        return {k: _to(v, device) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to(v, device) for v in tree)
    return tree
