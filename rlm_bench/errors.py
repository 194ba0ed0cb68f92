"""Errors a user can fix. The CLI prints them as one line and exits 2, never with a traceback."""


class UserError(Exception):
    """Bad input from the user: a suite field, a flag, an unknown name, a missing file."""
