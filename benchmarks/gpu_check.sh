#!/usr/bin/env bash
# The GPU check (issue #15): on a machine with an NVIDIA GPU, in one go and in at most about 9 minutes,
#   1. a Python with CUDA PyTorch: python3 itself when it has one and neurot's needs (offline machines; wheels of the
#      missing ones, such as POT and zuko, are installed from .whl/ when that folder exists), else a fresh .venv-gpu
#      with `pip install -e '.[dev]'` (no CPU constraints: PyPI's default torch is a CUDA build);
#   2. the GPU tests, `pytest -m gpu -x -q` (among them tests/test_devices.py on cuda: every solver fits, samples,
#      evaluates, saves, loads and resumes there);
#   3. timed fits of every solver, GPU against CPU (benchmarks/gpu_speed.py): a Markdown table of it/s;
#   4. the Gaussian suite's D = 64 and 128 cells on the GPU, in parallel, for what is left of the time
#      (benchmarks/gpu_grid.py; `neurot bench speed --device cuda` is the longer speed suite, not run here).
# Run: bash benchmarks/gpu_check.sh   (results and the log go to $OUT when set, else to gpu-check-results/).
# Every step has a timeout, shortened to what is left of DEADLINE_S (default 530 s); a step that no longer fits is
# skipped. The exit status is 1 when a step failed or was skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
RESULTS="${OUT:-gpu-check-results}"
mkdir -p "$RESULTS"
LOG="$RESULTS/gpu_check.log"
DEADLINE_S="${DEADLINE_S:-530}"
START=$SECONDS
FAILED=()
export PYTHONUNBUFFERED=1

# step NAME LIMIT_S COMMAND...: run COMMAND for at most LIMIT_S seconds (less near the deadline), into the log.
step() {
    local name=$1 limit=$2 left rc
    shift 2
    left=$((DEADLINE_S - (SECONDS - START)))
    if ((left < 30)); then
        echo "== $name: skipped, ${left} s left" | tee -a "$LOG"
        FAILED+=("$name (skipped)")
        return 1
    fi
    ((limit > left)) && limit=$left
    echo "== $name (at most ${limit} s, $((SECONDS - START)) s in)" | tee -a "$LOG"
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    if ((rc != 0)); then
        echo "== $name: failed with exit status $rc (124: timed out)" | tee -a "$LOG"
        FAILED+=("$name")
    fi
    return "$rc"
}

# cuda_python PYTHON: whether PYTHON has CUDA PyTorch with a visible GPU and what neurot and its tests import.
cuda_python() {
    "$1" -c 'import torch, torchdiffeq, safetensors, scipy, tqdm, zuko, ot, pytest; assert torch.cuda.is_available()' \
        2>/dev/null
}

step "nvidia-smi" 20 nvidia-smi
if compgen -G ".whl/*.whl" >/dev/null; then
    step "wheels from .whl/" 60 python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target /tmp/neurot-site .whl/*.whl && export PYTHONPATH="/tmp/neurot-site${PYTHONPATH:+:$PYTHONPATH}"
fi
PY=python3
if cuda_python "$PY"; then
    echo "== python3 has CUDA PyTorch and neurot's needs: no install, neurot from src/" | tee -a "$LOG"
    export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
else
    step "venv and pip install -e .[dev]" 330 bash -c \
        'python3 -m venv .venv-gpu && .venv-gpu/bin/python -m pip install -q -e ".[dev]"' || exit 1
    PY=.venv-gpu/bin/python
    cuda_python "$PY" || { echo "== no CUDA PyTorch after the install" | tee -a "$LOG"; exit 1; }
fi
step "versions" 30 "$PY" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda,
    torch.cuda.get_device_name(), torch.get_num_threads(), "CPU threads")'
step "GPU tests: pytest -m gpu" 150 "$PY" -m pytest -m gpu -x -q -p no:cacheprovider
step "timed fits, GPU against CPU" 200 "$PY" benchmarks/gpu_speed.py --steps 500 --cpu-steps 40 --out "$RESULTS"
left=$((DEADLINE_S - (SECONDS - START) - 20))
step "Gaussian grid D = 64, 128 on cuda" "$((left + 15))" "$PY" benchmarks/gpu_grid.py --limit "$left" --out "$RESULTS"

echo "== done in $((SECONDS - START)) s; results in $RESULTS" | tee -a "$LOG"
if ((${#FAILED[@]})); then
    printf '== not passed: %s\n' "${FAILED[@]}" | tee -a "$LOG"
    exit 1
fi
