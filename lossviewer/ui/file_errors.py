"""One wording for file errors shown to a person (status bar and message boxes)."""

from __future__ import annotations


def describe_file_error(exc: BaseException, path: str, action: str = "read") -> str:
    """'cannot read PATH: No such file or directory' for an OSError from the system,
    else the message the reader or writer raised (theirs name the file and the problem)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot {action} {path}: {exc.strerror}"
    return str(exc)
