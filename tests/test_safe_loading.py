"""No load path in src/ can execute code from a file: no pickle, ``torch.load`` only with ``weights_only=True``,
``np.load`` only with ``allow_pickle=False``, no ``eval``/``exec``, no pickling collectives."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "neurot"
UNSAFE_MODULES = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "marshal", "shelve"}
BUILTIN_CALLS = {("eval",), ("exec",), ("builtins", "eval"), ("builtins", "exec")}  # not nn.Module.eval()
PICKLING_CALLS = {"read_pickle", "all_gather_object", "broadcast_object_list", "gather_object",
                  "scatter_object_list", "send_object_list", "recv_object_list", "unsafe_load"}
REQUIRED_KEYWORDS = {("torch", "load"): ("weights_only", True), ("np", "load"): ("allow_pickle", False),
                     ("numpy", "load"): ("allow_pickle", False)}


def dotted(node):
    if isinstance(node, ast.Name):
        return (node.id,)
    if isinstance(node, ast.Attribute):  # a method of a call's result, f().eval, is ("<expr>", "eval")
        return (*(dotted(node.value) or ("<expr>",)), node.attr)
    return ()


def violations(source: str, filename: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            found += [f"{filename}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in UNSAFE_MODULES]
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        if name in BUILTIN_CALLS or (name and name[-1] in PICKLING_CALLS):
            found.append(f"{filename}:{node.lineno} calls {'.'.join(name)}")
        rule = REQUIRED_KEYWORDS.get(name[-2:])
        if rule:
            keyword, value = rule
            given = {k.arg: k.value for k in node.keywords}
            safe = keyword in given and isinstance(given[keyword], ast.Constant) and given[keyword].value is value
            if not safe:
                found.append(f"{filename}:{node.lineno} calls {'.'.join(name)} without {keyword}={value}")
    return found


def test_no_load_path_in_src_can_execute_code():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 20
    problems = [v for path in files for v in violations(path.read_text(), str(path.relative_to(SRC)))]
    assert problems == []


@pytest.mark.parametrize("code", [
    "import pickle", "from joblib import load", "torch.load(path)", "torch.load(path, weights_only=False)",
    "np.load(path)", "numpy.load(path, allow_pickle=True)", "eval(text)", "dist.all_gather_object(out, x)",
])
def test_the_scan_catches_unsafe_loads(code):
    assert violations(code, "example.py")


def test_the_scan_accepts_safe_loads():
    assert not violations("torch.load(p, weights_only=True, map_location='cpu')\nnp.load(p, allow_pickle=False)", "")
