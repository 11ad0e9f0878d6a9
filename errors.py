"""The project's one error type.

Every bad input (unknown machine or fault, impossible parameter, corrupt audio,
broken config...) raises :class:`FaultsynthError` with a message that says what
was expected. The CLI prints the message without a traceback and exits non-zero.
"""


class FaultsynthError(ValueError):
    """Bad input or an impossible request, with a message for the user."""
