"""Command line: ``python -m implicit COMMAND [options]``; ``python -m implicit --help`` lists the commands and
``python -m implicit COMMAND --help`` their options. The studies live in :mod:`implicit.studies`."""
from __future__ import annotations

import sys

from .fetch import data_main
from .studies import figure1, minibatch, width

#: Each command's entry point ``main(argv) -> exit status``.
COMMANDS = {"figure1": figure1.main, "width-study": width.main, "minibatch-study": minibatch.main, "data": data_main}
#: One line per command for ``--help``.
SUMMARIES = {
    "figure1": "the paper's Figure 1 experiment: GD per data set and width, one JSON per run",
    "width-study": "the smallest width at which GD converges, per n, against the theorems' widths; gamma sweep",
    "minibatch-study": "mini-batch SGD against GD, the role of gamma, and the two-layer kernels (beyond, part two)",
    "data": "the prepared image subsets: list, fetch (download into the cache), prepare (build from the originals)",
}


def usage() -> str:
    """The top-level help: usage and one line per command."""
    lines = ["usage: python -m implicit COMMAND [options]   (python -m implicit COMMAND --help for its options)", "",
             "commands:"]
    lines += [f"  {name:16s} {SUMMARIES[name]}" for name in COMMANDS]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a command; ``--help`` exits 0, a missing or unknown command prints one ``error:`` line and
    exits 2."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if not argv or argv[0] not in COMMANDS:
        problem = "no command given" if not argv else f"unknown command {argv[0]!r}"
        print(f"error: {problem}; choose one of {', '.join(COMMANDS)} (python -m implicit --help)", file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
