"""The transfer study's driver (issue 34): its statistics on numbers given to it, against a
hand computation and scipy's own Welch test; results collected from the cells' files; and the
whole pipeline once in --fast mode, a second start skipping every finished cell."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats

from benchmarks import transfer_study as study
from benchmarks.transfer_study import BETTER, UNRESOLVED, WORSE

PRE, RANDOM = [0.80, 0.82, 0.84], [0.70, 0.71, 0.75]


def test_welch_matches_a_hand_computation_and_scipy():
    test = study.welch(PRE, RANDOM)
    # by hand: squared standard errors 0.0008 / 2 / 3 and 0.0014 / 2 / 3
    va, vb = 0.0008 / 6, 0.0014 / 6
    assert test["difference"] == pytest.approx(0.10)
    assert test["t"] == pytest.approx(0.10 / math.sqrt(va + vb))
    assert test["df"] == pytest.approx((va + vb) ** 2 / (va**2 / 2 + vb**2 / 2))
    theirs = stats.ttest_ind(PRE, RANDOM, equal_var=False)
    assert test["t"] == pytest.approx(theirs.statistic) and test["p"] == pytest.approx(
        theirs.pvalue
    )
    low, high = theirs.confidence_interval(0.95)
    assert test["ci95"] == pytest.approx([low, high])
    assert study.verdict(test) == BETTER


def test_the_verdicts_follow_the_interval_of_the_difference():
    assert study.verdict(study.welch(RANDOM, PRE)) == WORSE
    assert study.verdict(study.welch([0.80, 0.90, 0.70], [0.79, 0.81, 0.80])) == UNRESOLVED
    same = study.welch([0.8, 0.8], [0.8, 0.8])  # no spread: the difference is exact
    assert same["ci95"] == [0.0, 0.0] and same["p"] == 1.0 and study.verdict(same) == UNRESOLVED
    with pytest.raises(ValueError, match="2 or more values per arm"):
        study.welch([0.8], PRE)


def test_an_arm_is_summarised_with_the_t_interval_of_its_mean():
    summary = study.summarize(PRE)
    assert summary["mean"] == pytest.approx(0.82) and summary["sd"] == pytest.approx(0.02)
    half = stats.t.ppf(0.975, 2) * 0.02 / math.sqrt(3)  # 4.303 × 0.01155
    assert summary["ci95"] == pytest.approx([0.82 - half, 0.82 + half])
    assert (summary["n"], summary["min"], summary["max"]) == (3, 0.80, 0.84)


def _inject(root, cells: dict) -> study.Study:
    """A study whose cells' folders hold the given test accuracies (None: still training)."""
    plan = study.Study(root, root / "pre", None, budgets=(500, 2000), seeds=(1, 2, 3))
    for cell in plan.cells():
        folder = plan.folder(cell)
        folder.mkdir(parents=True)
        accuracy = cells.get((cell.arm, cell.budget, cell.seed))
        if accuracy is None:
            (folder / "run.json").write_text(json.dumps({"status": "training"}))
        else:
            result = {"accuracy": accuracy, "examples": 25_000}
            (folder / "evaluation-test.json").write_text(json.dumps(result))
    return plan


def test_results_are_collected_from_the_cells_files(tmp_path):
    cells = {("pretrained", 500, s): a for s, a in zip((1, 2, 3), PRE, strict=True)}
    cells |= {("random", 500, s): a for s, a in zip((1, 2, 3), RANDOM, strict=True)}
    cells |= {("pretrained", 2000, 1): 0.88, ("random", 2000, 1): 0.80}  # one seed each so far
    plan = _inject(tmp_path, cells)
    assert plan.status(study.Cell("random", 2000, 2)) == "training"
    results = study.collect(plan)
    assert json.loads((tmp_path / "results.json").read_text()) == results
    assert len(results["cells"]) == 8 and results["cells"][0]["test_reviews"] == 25_000
    first, second = results["summary"]["500"], results["summary"]["2000"]
    assert first["verdict"] == BETTER and first["welch"] == study.welch(PRE, RANDOM)
    assert "welch" not in second and second["pretrained"]["n"] == 1
    rows = study.table(results).splitlines()
    assert rows[2].startswith("| 500 | 82.00% ± 2.00 (") and BETTER in rows[2]
    assert "+10.00 points" in rows[2] and "needs 2 seeds per arm" in rows[3]


def test_the_fast_mode_runs_the_pipeline_and_a_second_start_skips_finished_cells(
    tmp_path, monkeypatch
):
    assert study.main(["--fast", "--root", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results["cells"]) == 4 and set(results["summary"]) == {"32"}
    assert all(0 <= c["accuracy"] <= 1 and c["test_reviews"] == 40 for c in results["cells"])
    pretrained = json.loads((tmp_path / "pretrained" / "run.json").read_text())
    assert pretrained["status"] == "complete" and pretrained["budget"]["steps"] == 20
    random_init = json.loads((tmp_path / "init" / "random-seed-2" / "config.json").read_text())
    assert random_init["attention_lab"]["random_init_seed"] == 2

    def refuse(*args):
        raise AssertionError("a finished cell ran again")

    monkeypatch.setattr(study.Study, "_execute", refuse)
    assert study.main(["--fast", "--root", str(tmp_path)]) == 0
