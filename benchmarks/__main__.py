"""``python -m benchmarks SUITE [options]``: run one benchmark suite (``gram``)."""
from __future__ import annotations

import sys

from . import gram

SUITES = {"gram": gram.main}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in SUITES:
        print(f"usage: python -m benchmarks {{{','.join(SUITES)}}} [options]  (see SUITE --help)")
        sys.exit(2)
    SUITES[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
