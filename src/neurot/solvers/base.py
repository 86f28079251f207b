"""What every solver shares: option handling, the training loop, saving and loading.

The loop handles seeding, device, progress, callbacks and history. A solver subclass supplies a config dataclass
and the hooks ``_build``, ``_setup``, ``_train_step`` and ``_modules`` (optionally ``_extra_state``).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar, Self

import torch
from torch import nn
from tqdm.auto import tqdm

from neurot import __version__
from neurot._validation import PointShape, as_points, check_device, check_int, check_keys
from neurot.data import DataSource, as_source
from neurot.io import CONFIG_FILE, WEIGHTS_FILE, read_json, read_tensors, write_json, write_tensors

#: ``callback(solver, step, metrics) -> bool | None``; returning True stops training after that step.
Callback = Callable[["Solver", int, dict[str, float]], "bool | None"]


class NotFittedError(RuntimeError):
    """A solver method that needs a trained model was called before ``fit`` or ``load``."""


class Solver:
    """Base class of the OT solvers: ``__init__`` stores options, ``fit`` trains and returns ``self``."""

    name: ClassVar[str]
    Config: ClassVar[type]
    #: False for solvers that take points with several axes (images ``[N, C, H, W]``), not only ``[N, D]``.
    flat_data: ClassVar[bool] = True

    def __init__(self, **options: Any) -> None:
        fields = {f.name for f in dataclasses.fields(self.Config)}
        check_keys(f"{type(self).__name__} options", options, fields)
        self.config = self.Config(**options)
        self.history: list[dict[str, float]] = []
        self.dim: PointShape | None = None  # shape of one source point: D, or e.g. (C, H, W)
        self.device = torch.device("cpu")
        self.step = 0

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
        progress: bool | None = None,
    ) -> Self:
        """Train on samples of the source ``P`` and target ``Q``; returns ``self``.

        ``source``/``target``: tensors or arrays ``[N, D]``, or callables ``n -> [n, D]``. ``steps`` overrides the
        configured number of training iterations. Same ``seed``, inputs and device give the same result.
        ``progress``: show a progress bar (default: only when standard error is a terminal).
        """
        check_int("steps", steps, allow_none=True)
        check_int("seed", seed, minimum=0, allow_none=True)
        self.device = check_device("device", device)
        callbacks = list(callbacks or [])
        if any(not callable(c) for c in callbacks):
            raise TypeError("callbacks must be callables callback(solver, step, metrics)")
        source_data = as_source("source", source, flat=self.flat_data)
        target_data = as_source("target", target, dim=self._target_dim(source_data), flat=self.flat_data)
        total = steps if steps is not None else self.config.steps
        seed = 0 if seed is None else seed
        self.generator = torch.Generator(self.device).manual_seed(seed)
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(seed)
            self._setup(source_data, target_data)
        self.history, self.step = [], 0
        show = sys.stderr.isatty() if progress is None else progress
        with tqdm(total=total, desc=f"{self.name} fit", disable=not show, leave=False) as bar:
            for self.step in range(1, total + 1):
                metrics = {"step": self.step, **self._train_step(self.step, total)}
                self.history.append(metrics)
                bar.update()
                if self.step % 50 == 0 or self.step == total:
                    bar.set_postfix({k: f"{v:.3g}" for k, v in metrics.items() if k in ("loss", "acceptance")})
                if any([bool(c(self, self.step, metrics)) for c in callbacks]):
                    break
        return self

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

    def _extra_state(self) -> dict[str, Any]:
        """JSON-serialisable learned state besides the weights (e.g. an adapted step size)."""
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`_extra_state` (called before :meth:`_build` on load)."""

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
            module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        return solver
