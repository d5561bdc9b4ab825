"""The folder layout is the architecture: knowledge goes one way, and the core needs no TensorFlow.

Every ``import`` of ``attention_lab`` (module level and inside functions) is read from the
source; the test fails on any import cycle between modules, on a lower layer importing a higher
one, on a lower layer's code naming a file that a higher one defines (the converter knowing the
fine-tuning run record), and on a TensorFlow import in the backend-neutral core.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "attention_lab"

# Each layer may import only the layers listed below it (and itself).
LAYERS = [
    {"errors", "backend"},
    {"io", "runtime"},
    {"layers", "tokenization", "data", "viz"},
    {"models", "tasks"},
    {"convert"},
    {"parity", "training"},
    {"interpret"},
    {"cli", "__main__", "compat"},
]
# The files each package defines and writes: only it and the layers above it may name them.
FORMATS = {
    "data": ("manifest.json",),  # the IMDb cache
    "training": (
        "run.json",  # the fine-tuning run record
        "state.json",  # the training state to resume from
        "best.weights.h5",
        "training.json",  # the seq2seq run record
        "metrics.json",  # the GloVe run's results
    ),
}
# Pure keras.ops code that runs on TensorFlow, JAX and PyTorch alike.
BACKEND_NEUTRAL = [
    "layers",
    "models/bert.py",
    "models/bert_fused.py",
    "convert",
    "parity",
    "runtime.py",
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, name: str, modules) -> set[str]:
    """The attention_lab modules ``path`` imports (whatever the import's place in the file)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target.startswith("attention_lab") and target != name:
                out.add(target)
    return out


def _graph():
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def _layer(module: str) -> int | None:
    top = module.split(".")[1] if "." in module else None
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    return None


def test_no_module_imports_a_module_that_imports_it_back():
    graph = _graph()
    faces = {name for name, path in _modules().items() if path.name == "__init__.py"}
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt in faces:  # a package's __init__ only hands its modules' names on
                continue
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt) :] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_lower_layers_never_import_higher_ones():
    wrong = []
    for module, imported in _graph().items():
        here = _layer(module)
        for target in imported:
            there = _layer(target)
            if here is not None and there is not None and there > here:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports that run back up: " + ", ".join(sorted(wrong))


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """``(line, text)`` of the string literals of ``path``'s code (docstrings are prose)."""
    tree = ast.parse(path.read_text())
    prose = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            prose.add(id(body[0].value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose
    ]


def _names_file(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", text) is not None


def test_lower_layers_never_name_a_higher_ones_files():
    wrong = []
    for module, path in _modules().items():
        here = _layer(module)
        strings = _code_strings(path)
        for package, names in FORMATS.items():
            if here is None or _layer(f"attention_lab.{package}") <= here:
                continue
            wrong += [
                f"{path.relative_to(PACKAGE)}:{line} names {package}'s {name}"
                for line, text in strings
                for name in names
                if _names_file(text, name)
            ]
    assert not wrong, wrong


def test_each_package_names_the_files_it_is_said_to_define():
    for package, names in FORMATS.items():
        strings = [
            text for path in (PACKAGE / package).rglob("*.py") for _, text in _code_strings(path)
        ]
        for name in names:
            assert any(_names_file(text, name) for text in strings), (package, name)


def test_every_package_folder_has_its_place_in_the_layers():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    placed = set().union(*LAYERS)
    assert folders | modules <= placed, (folders | modules) - placed


def test_the_backend_neutral_core_imports_no_tensorflow():
    offenders = []
    for entry in BACKEND_NEUTRAL:
        for path in sorted((PACKAGE / entry).rglob("*.py")) or [PACKAGE / entry]:
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                if any(n == "tensorflow" or n.startswith("tensorflow.") for n in names):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not offenders, offenders


def _code_lines(path: Path) -> int:
    """Lines of code: blank lines, comments and docstrings not counted."""
    docstrings = set()
    for node in ast.walk(ast.parse(path.read_text())):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        value = getattr(first, "value", None)
        if isinstance(first, ast.Expr) and isinstance(getattr(value, "value", None), str):
            docstrings.update(range(first.lineno, first.end_lineno + 1))
    lines = path.read_text().splitlines()
    return sum(
        1
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.strip().startswith("#") and number not in docstrings
    )


def test_the_model_is_one_file_a_reader_can_follow_alone():
    """models/bert.py holds the whole of BERT and its heads: at most 500 lines of code, no
    import from the package but the errors, and no kernel-specific code (that is
    models/bert_fused.py's)."""
    path = PACKAGE / "models" / "bert.py"
    assert _code_lines(path) <= 500, _code_lines(path)
    graph = _graph()
    assert graph["attention_lab.models.bert"] <= {"attention_lab.errors"}
    text = path.read_text().lower()
    assert not [word for word in ("onednn", "xla", "jit", "tensorflow") if word in text]


# The code a reader of the chapter follows: the model, loading its weights, fine-tuning it.
READING_PATH = [
    "models/bert.py",
    "convert/bert_folder.py",
    "convert/hf_checkpoint.py",
    "convert/weight_map.py",
    "training/fit.py",
    "training/finetune.py",
    "training/data.py",
    "training/optimization.py",
    "training/callbacks.py",
    "training/run_folder.py",
]


def test_the_reading_path_stays_short():
    """Model + fine-tuning + loading in at most 1,400 lines of code (issue 27): the checks of
    files and settings that are not the lesson live in their own modules (convert/integrity.py,
    training/run_checks.py, training/preflight.py)."""
    lines = {path: _code_lines(PACKAGE / path) for path in READING_PATH}
    assert sum(lines.values()) <= 1400, lines
