"""Command line: ``python -m implicit figure1 --profile fast`` runs the paper's experiment (see
:mod:`implicit.experiments`); ``python -m implicit width-study --profile fast`` the width study and gamma sweep (see
:mod:`implicit.widthstudy`)."""
from __future__ import annotations

import sys

from . import experiments, widthstudy

COMMANDS = {"figure1": experiments.main, "width-study": widthstudy.main}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python -m implicit {{{','.join(COMMANDS)}}} [options]   (COMMAND --help for options)")
        sys.exit(2)
    COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
