"""Speed benchmarks: our BERT against Hugging Face (PyTorch) and KerasHub on the same machine.

Run everything with ``python -m benchmarks [--quick] [--out docs/]``. Every contender is timed
in one process, alternating round by round after warm-up, with the same thread count; the
results go to ``docs/benchmarks.json`` and ``docs/benchmarks.md``.
"""
