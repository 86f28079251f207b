"""The named examples end to end (slow: minutes on one CPU core each)."""

import json

import pytest

from neurot.examples import EXAMPLES, run_example


def test_registry_names_and_descriptions():
    assert {"digits-2to3", "digits-latent"} <= set(EXAMPLES)
    assert all(example.description for example in EXAMPLES.values())


def check_run(out, metrics):
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1] == json.loads(json.dumps(metrics))
    assert (out / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "model" / "weights.safetensors").exists() and (out / "classifier.safetensors").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name,min_classified,max_color_error", [("digits-2to3", 0.9, 20), ("digits-latent", 0.8, 30)])
def test_digits_examples_translate_and_keep_colors(tmp_path, name, min_classified, max_color_error):
    """Issue #5's bar for digits-2to3: classified_as_target >= 0.9 with the colors kept (random hues would score
    90 degrees); the latent example, through a generator, gets looser bounds."""
    metrics = run_example(name, tmp_path / "run")
    check_run(tmp_path / "run", metrics)
    assert metrics["classified_as_target"] >= min_classified
    assert metrics["color_error"] <= max_color_error
