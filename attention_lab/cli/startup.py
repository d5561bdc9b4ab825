"""Start-up of the ``attention-lab`` process: Keras imported without what it never uses here.

Importing Keras (on TensorFlow) also imports, when they are installed, libraries that Keras and
TensorFlow only offer integrations with: JAX (TensorFlow Lite's JAX converter), scikit-learn
(Keras's scikit-learn wrappers), pandas (``fit`` on data frames), matplotlib (Keras's image
gallery), IPython (notebook detection) and SciPy (sparse matrices in TensorFlow's legacy
``tf.keras``). Every one of those imports is optional: Keras and
TensorFlow guard it and carry on without the integration. No command of ``attention-lab`` uses
these integrations, so the command line imports Keras with them hidden; each library is
importable again as soon as Keras is loaded, and our own plots still import matplotlib
themselves. The saving is measured in ``docs/benchmarks.md`` ("Time to the first answer").

Nothing changes for Python code that imports ``attention_lab`` or Keras itself: this runs only
in the ``attention-lab`` process, and only when Keras is not imported yet.
"""

from __future__ import annotations

import os
import sys

# Libraries that Keras or TensorFlow import only to offer an integration the command line
# never uses; JAX is kept when it is the Keras backend.
OPTIONAL_INTEGRATIONS = ("jax", "sklearn", "pandas", "matplotlib", "IPython", "scipy")


def import_keras() -> None:
    """Import Keras with :data:`OPTIONAL_INTEGRATIONS` hidden, then make them importable again."""
    if "keras" in sys.modules:
        return
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    hidden = [
        name
        for name in OPTIONAL_INTEGRATIONS
        if name not in sys.modules and not (name == "jax" and backend == "jax")
    ]
    for name in hidden:
        sys.modules[name] = None  # ``import name`` raises ImportError, which Keras expects
    try:
        import keras  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]
