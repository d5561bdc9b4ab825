"""The full-scale queue (benchmarks/imdb_runs.py): its commands and the table it prints."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks import imdb_runs  # noqa: E402


def test_every_run_has_its_own_folder_and_the_frozen_stage_continues_its_parent(monkeypatch):
    monkeypatch.setattr(imdb_runs, "minilm", lambda: "MINILM")
    for name in imdb_runs.EXPERIMENTS:
        args = imdb_runs.command(name, "finetune")
        assert args[args.index("--out") + 1] == str(imdb_runs.RUNS / name)
    frozen = imdb_runs.command("full-custom-headtail-frozen", "finetune")
    assert frozen[frozen.index("--model") + 1] == str(imdb_runs.RUNS / "full-custom-headtail")


def _write_run(folder: Path, evaluated: bool, keep_best: str | None = None) -> None:
    folder.mkdir(parents=True)
    history = [
        {"epoch": 1, "val_accuracy": 0.88, "val_loss": 0.28},
        {"epoch": 2, "val_accuracy": 0.90, "val_loss": 0.30},
    ]
    run = {
        "status": "complete",
        "settings": {
            "head": "custom",
            "freeze_encoder": True,
            "truncation": "head+tail",
            "max_len": 150,
            "precision": "bfloat16",
            **({"keep_best": keep_best} if keep_best else {}),  # absent: made before the flag
        },
        "result": {
            "history": history,
            "best_epoch": 2 if keep_best == "accuracy" else 1,
            "train_seconds": 3600.0,
            "examples_per_second": 7.5,
        },
    }
    (folder / "run.json").write_text(json.dumps(run))
    if evaluated:
        test = {
            "accuracy": 0.9123,
            "precision": 0.9,
            "recall": 0.925,
            "f1": 0.912,
            "examples": 25000,
        }
        (folder / "evaluation-test.json").write_text(json.dumps(test))


def test_table_has_a_row_per_evaluated_run_with_the_best_epochs_validation(tmp_path, monkeypatch):
    monkeypatch.setattr(imdb_runs, "RUNS", tmp_path)
    _write_run(tmp_path / "a", evaluated=True)
    _write_run(tmp_path / "b", evaluated=False)
    _write_run(tmp_path / "c", evaluated=True, keep_best="accuracy")
    lines = imdb_runs.table(["a", "b", "missing", "c"]).splitlines()
    assert len(lines) == 4  # header, rule, the two evaluated runs
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells == [
        "a", "custom, encoder frozen", "head+tail", "150", "bfloat16", "2 (1, loss)", "60 min",
        "7.50", "0.8800", "91.23%", "0.900", "0.925", "0.912", "25,000",
    ]  # fmt: skip
    cells = [c.strip() for c in lines[3].strip("|").split("|")]
    assert cells[0] == "c" and cells[5] == "2 (2, accuracy)" and cells[8] == "0.9000"
