"""Errors a user can fix. The CLI prints them as one line and exits 2, never with a traceback."""


def first_line(text: str) -> str:
    """The first non-empty line of an error message, for a one-line report."""
    return text.strip().splitlines()[0] if text.strip() else ""


def exception_line(exc: BaseException) -> str:
    """An exception in one line: its message's first line, or its type when it has none."""
    return first_line(str(exc)) or type(exc).__name__


class UserError(Exception):
    """Bad input from the user: a suite field, a flag, an unknown name, a missing file."""
