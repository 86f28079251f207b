"""Named, self-contained examples: ``neurot examples`` lists them, ``neurot fit --example NAME`` runs one.

Each builds its own data offline, trains, evaluates and fills a run directory: ``config.json``, ``model/``,
``metrics.jsonl`` (training lines, then one line of evaluation metrics) and ``figure.png``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Example:
    """An example: ``run(out, steps=None, seed=0, device="cpu", progress=None) -> evaluation metrics``."""

    name: str
    description: str
    run: Callable[..., dict[str, Any]]


def _digits_2to3(out: Path, **options: Any) -> dict[str, Any]:
    from neurot.examples.digits import run_digits_2to3

    return run_digits_2to3(out, **options)


def _digits_latent(out: Path, **options: Any) -> dict[str, Any]:
    from neurot.examples.digits import run_digits_latent

    return run_digits_latent(out, **options)


def _digits_otflow(out: Path, **options: Any) -> dict[str, Any]:
    from neurot.examples.otflow_latent import run_digits_otflow

    return run_digits_otflow(out, **options)


def _digits_2to3_sfeuot(out: Path, **options: Any) -> dict[str, Any]:
    from neurot.examples.sfeuot_digits import run_digits_2to3_sfeuot

    return run_digits_2to3_sfeuot(out, **options)


def _digits_generate(out: Path, **options: Any) -> dict[str, Any]:
    from neurot.examples.digits_generate import run_digits_generate

    return run_digits_generate(out, **options)


EXAMPLES: dict[str, Example] = {
    example.name: example
    for example in (
        Example("digits-2to3", "colored digits 2 -> 3 in pixel space (EgNOT, conv potential; ~10 CPU minutes)",
                _digits_2to3),
        Example("digits-latent", "colored digits 2 -> 3 in the latent space of a decoder neurot trains "
                "(EgNOT, cost latent(decoder); a few CPU minutes)", _digits_latent),
        Example("digits-otflow", "colored digits 2 -> 3 by OT flow between the latent codes of an autoencoder "
                "neurot trains; the figure decodes the flow's paths (~1 CPU minute)", _digits_otflow),
        Example("digits-2to3-sfeuot", "colored digits 2 -> 3 in pixel space as digits-2to3, with SF-EUOT's one-step "
                "generator (~6 CPU minutes)", _digits_2to3_sfeuot),
        Example("digits-generate", "colored digits of all ten classes from Gaussian noise in one step: SF-EUOT in "
                "a PCA latent of the digits (~5 CPU minutes)", _digits_generate),
    )
}


def run_example(name: str, out: str | Path, *, overwrite: bool = False, **options: Any) -> dict[str, Any]:
    """Run the example ``name`` into the run directory ``out``; returns its evaluation metrics.

    A directory that holds a run already is refused unless ``overwrite`` (:func:`neurot.runs.check_run_dir`).
    """
    from neurot.runs import check_run_dir, remove_run

    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; expected one of {sorted(EXAMPLES)}")
    out = Path(out)
    check_run_dir(out, resume=False, overwrite=overwrite)
    if overwrite:
        remove_run(out)
    return EXAMPLES[name].run(out, **options)
