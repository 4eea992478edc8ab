"""The command line's one convention: a user error is one ``error: ...`` line on stderr and an exit status, never a
traceback.

:class:`CommandError` carries the message and the status (2 for arguments, as argparse; 1 for missing data or a
failed download); :class:`ArgumentParser` raises it instead of printing usage and exiting; :func:`command` turns a
command's body into ``main(argv=None) -> int``. Every ``python -m implicit`` command (the studies, ``data``) uses them.
"""
from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable

__all__ = ["CommandError", "ArgumentParser", "command"]


class CommandError(Exception):
    """A problem the user can fix (an invalid argument, missing data): reported as one ``error: ...`` line on stderr,
    exit ``status`` (2 for arguments, as argparse; 1 for data).

    Examples:
        >>> from implicit.cli import CommandError
        >>> err = CommandError("no data in /tmp/x", status=1)
        >>> str(err), err.status
        ('no data in /tmp/x', 1)
    """

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


class ArgumentParser(argparse.ArgumentParser):
    """An argument parser that raises :class:`CommandError` instead of printing usage and exiting.

    Examples:
        >>> from implicit.cli import ArgumentParser, CommandError
        >>> p = ArgumentParser(prog="demo")
        >>> _ = p.add_argument("--steps", type=int)
        >>> try:
        ...     p.parse_args(["--steps", "many"])
        ... except CommandError as err:
        ...     print(err)
        demo: argument --steps: invalid int value: 'many' (see --help)
    """

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CommandError(f"{self.prog}: {message} (see --help)")


def command(body: Callable[[list[str]], None] | None = None, *,
            interrupted: str = "interrupted") -> Callable[[list[str] | None], int]:
    """Wrap a command's body into ``main(argv=None) -> int`` (the exit status): a :class:`CommandError` becomes one
    ``error: ...`` line on stderr; ``--help`` returns 0; Ctrl-C prints ``interrupted`` and returns 130. Use as
    ``@command`` or ``@command(interrupted="...")``.

    Examples:
        >>> import contextlib, sys
        >>> from implicit.cli import CommandError, command
        >>> @command
        ... def main(argv):
        ...     if not argv:
        ...         raise CommandError("nothing to run")
        ...     print("running", *argv)
        >>> main(["a", "b"])
        running a b
        0
        >>> with contextlib.redirect_stderr(sys.stdout):  # show the line main writes to stderr
        ...     main([])
        error: nothing to run
        2
    """
    if body is None:
        return functools.partial(command, interrupted=interrupted)  # type: ignore[return-value]

    @functools.wraps(body)
    def main(argv: list[str] | None = None) -> int:
        try:
            body(sys.argv[1:] if argv is None else list(argv))
        except CommandError as err:
            print(f"error: {err}", file=sys.stderr)
            return err.status
        except SystemExit as done:  # argparse's --help
            return done.code if isinstance(done.code, int) else 0
        except KeyboardInterrupt:
            print(interrupted, file=sys.stderr)
            return 130
        return 0

    return main
