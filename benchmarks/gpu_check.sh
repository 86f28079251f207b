#!/usr/bin/env bash
# The GPU check (issue #15): on a machine with an NVIDIA GPU, in one go and in at most about 8 minutes,
#   1. a Python with CUDA PyTorch: python3 itself when it has one and neurot's needs (offline machines), else a
#      fresh .venv-gpu with `pip install -e '.[dev]'` (no CPU constraints: PyPI's default torch is a CUDA build);
#   2. the GPU tests, `pytest -m gpu -x -q` (among them tests/test_devices.py on cuda: every solver fits, samples,
#      evaluates, saves, loads and resumes there);
#   3. `neurot bench speed --quick --device cuda` (EgNOT throughput and time to accuracy at D = 16);
#   4. timed fits of every solver, GPU against CPU (benchmarks/gpu_speed.py): a Markdown table of it/s.
# Run: bash benchmarks/gpu_check.sh   (results and the log go to $OUT when set, else to gpu-check-results/).
# Every step has a timeout, shortened to what is left of DEADLINE_S (default 470 s); a step that no longer fits is
# skipped. The exit status is 1 when a step failed or was skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
RESULTS="${OUT:-gpu-check-results}"
mkdir -p "$RESULTS"
LOG="$RESULTS/gpu_check.log"
DEADLINE_S="${DEADLINE_S:-470}"
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
    "$1" -c 'import torch, torchdiffeq, safetensors, scipy, tqdm, pytest; assert torch.cuda.is_available()' 2>/dev/null
}

step "nvidia-smi" 20 nvidia-smi
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
step "neurot bench speed --quick --device cuda" 180 \
    "$PY" -m neurot bench speed --quick --device cuda --out "$RESULTS/bench"
step "timed fits, GPU against CPU" 200 "$PY" benchmarks/gpu_speed.py --steps 2000 --cpu-steps 50 --out "$RESULTS"

echo "== done in $((SECONDS - START)) s; results in $RESULTS" | tee -a "$LOG"
if ((${#FAILED[@]})); then
    printf '== not passed: %s\n' "${FAILED[@]}" | tee -a "$LOG"
    exit 1
fi
