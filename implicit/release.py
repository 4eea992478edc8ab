"""Where this package is published: the repository, the release tags and the addresses derived from them.

This is the one place these strings are written; everything else (the Colab install line, the data download, the
checks in ``tests/test_release.py`` against ``pyproject.toml`` and ``_config.yml``) derives from it. The module
imports nothing, so a script can read it without loading torch.

* :data:`REPOSITORY`: the GitHub repository.
* :data:`VERSION` and :data:`RELEASE_TAG`: this package's version (equal to ``implicit.__version__`` and
  ``pyproject.toml``'s ``project.version``, which the tests check) and its git tag ``v<VERSION>``.
* :data:`DATA_TAG` and :data:`DATA_URL`: the GitHub release that carries the prepared image subsets
  (``<name>-01.npz``) as assets, and the address they are downloaded from by default (see :mod:`implicit.fetch`).
  The data release has its own tag because the subsets change far less often than the code.
* :data:`COLAB_SPEC` and :data:`COLAB_PIP`: the pip requirement that installs this release from GitHub, and the
  command a notebook's Colab cell runs.
"""
from __future__ import annotations

__all__ = ["REPOSITORY", "VERSION", "RELEASE_TAG", "DATA_TAG", "DATA_URL", "COLAB_SPEC", "COLAB_PIP"]

#: The GitHub repository (no trailing slash, no ``.git``).
REPOSITORY = "https://github.com/implicit-convergence/implicit-convergence"
#: This package's version.
VERSION = "0.1.0"
#: The git tag of this version.
RELEASE_TAG = f"v{VERSION}"
#: The GitHub release whose assets are the prepared subsets; a new tag when their bytes (and digests) change.
DATA_TAG = "data-v1"
#: The default base address of the prepared subsets (``DATA_URL + "mnist-01.npz"``); ``IMPLICIT_DATA_URL`` overrides it.
DATA_URL = f"{REPOSITORY}/releases/download/{DATA_TAG}/"
#: The pip requirement for this release, installed from GitHub.
COLAB_SPEC = f"implicit-convergence @ git+{REPOSITORY}@{RELEASE_TAG}"
#: The install command of a notebook's Colab cell (prefix it with ``%`` in a notebook).
COLAB_PIP = f'pip install "{COLAB_SPEC}"'
