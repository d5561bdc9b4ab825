"""``python -m attention_lab`` is the same as the ``attention-lab`` command."""

from attention_lab.cli.main import entry

entry()
