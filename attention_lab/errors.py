"""The one exception type users of attention_lab need to catch.

Every error we raise on bad input is an :class:`AttentionLabError` (or a subclass) whose
message names the problem (file, tensor, shape, token id) and the fix. The command line
prints the message and exits with status 2 instead of showing a traceback.
"""


class AttentionLabError(ValueError):
    """Bad input or an impossible request, with a message that says how to fix it."""


class CheckpointError(AttentionLabError):
    """A checkpoint directory, config or weights file that cannot be used as given."""
