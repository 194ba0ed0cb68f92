"""Errors a user can fix. The CLI prints them as one line and exits 2, never with a traceback."""


def first_line(text: str) -> str:
    """The first non-empty line of an error message, for a one-line report."""
    return text.strip().splitlines()[0] if text.strip() else ""


class UserError(Exception):
    """Bad input from the user: a suite field, a flag, an unknown name, a missing file."""
