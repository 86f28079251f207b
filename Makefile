# Each target creates its own virtual environment in .venv and installs neurot with what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS ?= constraints-cpu.txt

.PHONY: demo test test-all lint bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/activate
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -c $(CONSTRAINTS) -e ".[dev]"
	touch $@

demo: $(VENV)/.installed  ## train the default example (2-D Gaussian -> Swiss roll) into runs/demo
	$(BIN)/neurot fit --out runs/demo

test: $(VENV)/.installed  ## the fast test tier (what CI runs)
	$(BIN)/python -m pytest -m "not slow and not gpu"

test-all: $(VENV)/.installed
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks examples

bench: $(VENV)/.installed
	$(BIN)/neurot bench --quick

clean:
	rm -rf $(VENV) runs .pytest_cache
