"""The one exception type users of attention_lab need to catch.

Every error we raise on bad input is an :class:`AttentionLabError` (or a subclass) whose
message names the problem (file, tensor, shape, token id) and the fix. The command line
prints the message and exits with status 2 instead of showing a traceback.
"""


class AttentionLabError(ValueError):
    """Bad input or an impossible request, with a message that says how to fix it."""


class ConfigError(AttentionLabError):
    """A hyperparameter that no model can be built with (``BertConfig``'s checks)."""


class CheckpointError(AttentionLabError):
    """A checkpoint directory, config or weights file that cannot be used as given."""


def check_at_least_one(name: str, value: int | None) -> None:
    """Refuse a count below 1 (``--epochs must be at least 1, got 0``); None is "not set"."""
    if value is not None and value < 1:
        raise AttentionLabError(f"{name} must be at least 1, got {value}")
