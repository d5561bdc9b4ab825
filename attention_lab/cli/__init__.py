"""The ``attention-lab`` command line: one module per sub-command."""
