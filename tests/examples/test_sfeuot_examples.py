"""The SF-EUOT digits example end to end with a few steps, from Python and from the command line."""

import json
import shutil

import pytest

from neurot.cli import main
from neurot.examples import EXAMPLES, run_example
from neurot.examples.digit_metrics import digit_classifier


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    """The digit classifier, trained once for the module and copied into each run directory."""
    path = tmp_path_factory.mktemp("cache") / "classifier.safetensors"
    digit_classifier(path)
    return path


def run(name, tmp_path, classifier_file):
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(classifier_file, out / "classifier.safetensors")
    metrics = run_example(name, out, steps=3)
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1] == json.loads(json.dumps(metrics)) and lines[-1]["evaluation"]
    assert [line["step"] for line in lines[:-1]][-1] == 3
    config = json.loads((out / "config.json").read_text())
    assert config["example"] == name and config["solver"]["name"] == "sfeuot" and config["fit"]["steps"] == 3
    assert (out / "model" / "weights.safetensors").exists()
    assert (out / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return metrics


def test_registry_holds_the_sfeuot_example():
    assert "digits-2to3-sfeuot" in EXAMPLES


def test_digits_2to3_sfeuot_runs_end_to_end(tmp_path, classifier_file):
    metrics = run("digits-2to3-sfeuot", tmp_path, classifier_file)
    assert {"classified_as_target", "color_error", "diversity", "images_per_second", "fit_seconds"} <= set(metrics)
    assert metrics["diversity"] > 0  # a stochastic generator


def test_the_command_line_runs_an_example(tmp_path, classifier_file):
    """``neurot fit --example`` (the device it checks is recorded in config.json as a string)."""
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(classifier_file, out / "classifier.safetensors")
    assert main(["fit", "--example", "digits-2to3-sfeuot", "--out", str(out), "--steps", "2"]) == 0
    assert json.loads((out / "config.json").read_text())["fit"]["device"] == "cpu"
