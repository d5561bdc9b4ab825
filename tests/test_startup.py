"""The command line's start-up: Keras imported without the integrations no command uses."""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.startup import ROOT, _contenders, table

PROBE = """
import json, sys
from attention_lab.cli.startup import OPTIONAL_INTEGRATIONS, import_keras
import_keras()
loaded = [name for name in OPTIONAL_INTEGRATIONS if name in sys.modules]
import keras, pandas, scipy, sklearn  # importable again once Keras is loaded
print(json.dumps({"loaded": loaded, "backend": keras.backend.backend(),
                  "pandas": pandas.__name__, "sklearn": sklearn.__name__}))
"""


def test_keras_is_imported_without_its_optional_integrations_which_stay_importable():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=300
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "loaded": [],
        "backend": "tensorflow",
        "pandas": "pandas",
        "sklearn": "sklearn",
    }


def test_the_startup_benchmark_reads_its_contenders_and_writes_a_table():
    assert _contenders(["old=/tmp/a:/tmp/b"]) == {"this tree": str(ROOT), "old": "/tmp/a:/tmp/b"}
    timing = {"median_s": 2.5, "min_s": 2.0, "max_s": 3.0, "samples_s": [2.0, 2.5, 3.0]}
    assert "| old | 2.50 | 2.00 | 3.00 | 3 |" in table({"timings": {"old": timing}})


def test_the_command_ends_its_process_with_the_status_and_everything_written(tmp_path):
    """``python -m attention_lab`` leaves through ``os._exit``: the status and the last line on
    stderr (flushed first) still arrive."""
    done = subprocess.run(
        [sys.executable, "-m", "attention_lab", "predict", "--checkpoint", str(tmp_path), "x"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("attention-lab predict: error: ")
