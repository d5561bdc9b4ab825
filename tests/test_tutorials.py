"""The tutorials execute end to end (fast mode), and their committed notebooks match them.

Each ``tutorials/NN_name.py`` (jupytext ``py:percent``) is converted to a notebook and run
cell by cell in a fresh Jupyter kernel with ``ATTENTION_LAB_TUTORIAL_MODE=fast``; a cell that
raises fails the test. The committed ``.ipynb`` twin must hold the same code, have been
executed without errors, and show its plots.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

TUTORIALS_DIR = Path(__file__).resolve().parents[1] / "tutorials"
TUTORIALS = sorted(TUTORIALS_DIR.glob("[0-9][0-9]_*.py"))
# Bigger than this, a committed notebook is carrying data rather than a few plots and excerpts.
MAX_NOTEBOOK_BYTES = 3_000_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _code_cells(notebook) -> list[str]:
    return [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"]


def _png_outputs(notebook) -> list[bytes]:
    return [
        base64.b64decode(output["data"]["image/png"])
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]


def _plotting_cells(notebook) -> int:
    """Code cells that show a figure at top level; each must leave a PNG behind."""
    markers = ("plt.show()", "show(fig)", "display(Image(")
    return sum(
        1
        for cell in notebook.cells
        if cell.cell_type == "code"
        and any(line.startswith(markers) for line in cell.source.splitlines())
    )


def test_there_is_a_tutorial_per_part_of_the_chapter():
    assert [p.stem[:2] for p in TUTORIALS] == ["00", "01", "02", "03", "04", "05", "06", "07", "08"]


@pytest.mark.slow
@pytest.mark.parametrize("source", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_executes_in_fast_mode(source, shared_data, minilm_dir, monkeypatch):
    monkeypatch.setenv("ATTENTION_LAB_TUTORIAL_MODE", "fast")
    monkeypatch.setenv("ATTENTION_LAB_SHARED_DATA", str(shared_data))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    notebook = jupytext.read(source)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(TUTORIALS_DIR)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    first_output = notebook.cells[[c.cell_type for c in notebook.cells].index("code")].outputs
    assert "mode: fast" in "".join(o.get("text", "") for o in first_output)
    assert len(_png_outputs(notebook)) >= _plotting_cells(notebook) > 0, (
        f"{source.name}: a figure was not displayed as PNG"
    )


@pytest.mark.parametrize("source", TUTORIALS, ids=lambda p: p.stem)
def test_committed_notebook_is_the_executed_twin(source):
    twin = source.with_suffix(".ipynb")
    assert twin.is_file(), f"{twin.name} missing: run `jupytext --to ipynb --execute {source}`"
    assert twin.stat().st_size < MAX_NOTEBOOK_BYTES
    notebook = jupytext.read(twin)
    assert _code_cells(notebook) == _code_cells(jupytext.read(source)), (
        f"{twin.name} is out of sync with {source.name}: re-execute it"
    )
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs, f"{twin.name} was never executed"
    assert not [o for o in outputs if o.output_type == "error"]
    pngs = _png_outputs(notebook)
    assert len(pngs) >= _plotting_cells(notebook) > 0
    assert all(png.startswith(PNG_MAGIC) for png in pngs)


def test_execute_script_strips_only_tensorflows_start_up_lines():
    import importlib.util

    import nbformat

    path = TUTORIALS_DIR.parent / "scripts" / "execute_tutorials.py"
    spec = importlib.util.spec_from_file_location("execute_tutorials", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    tf_lines = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1795552380.072107   10604 port.cc:153] oneDNN custom operations are on.\n"
        "E0000 00:00:1795541617.144379   25889 cuda_platform.cc:52] failed call to cuInit\n"
    )
    cell = nbformat.v4.new_code_cell("import tensorflow")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text=tf_lines),
        nbformat.v4.new_output("stream", name="stderr", text=tf_lines + "UserWarning: kept\n"),
        nbformat.v4.new_output("stream", name="stdout", text="I0000 printed by the code\n"),
    ]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    script.strip_tf_startup_lines(notebook)
    assert [(o.name, o.text) for o in cell.outputs] == [
        ("stderr", "UserWarning: kept\n"),
        ("stdout", "I0000 printed by the code\n"),
    ]
