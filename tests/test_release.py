"""implicit.release is the one place for the repository address and the release tags: the package metadata
(pyproject.toml), the book configuration (_config.yml) and ``implicit.__version__`` must agree with it."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import implicit
from implicit import release

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def _config() -> dict:
    yaml = pytest.importorskip("yaml")
    path = ROOT / "_config.yml"
    if not path.is_file():
        pytest.skip(f"no _config.yml at {path}")
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def test_repository_is_a_plain_github_address():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", release.REPOSITORY), release.REPOSITORY
    assert not release.REPOSITORY.endswith((".git", "/"))


def test_book_configuration_names_the_repository():
    assert _config()["repository"]["url"].rstrip("/") == release.REPOSITORY


def test_package_urls_name_the_repository():
    urls = _pyproject()["project"]["urls"]
    assert urls["Repository"] == release.REPOSITORY
    assert urls["Homepage"] == release.REPOSITORY
    assert urls["Issues"] == f"{release.REPOSITORY}/issues"
    assert all(url.startswith(release.REPOSITORY) for url in urls.values()), urls


def test_version_agrees_everywhere():
    project = _pyproject()["project"]
    if "version" in project:
        assert project["version"] == release.VERSION
    else:  # a dynamic version must be read from the package
        assert "version" in project.get("dynamic", [])
    assert implicit.__version__ == release.VERSION
    assert release.RELEASE_TAG == f"v{release.VERSION}"


def test_derived_addresses():
    assert release.DATA_URL == f"{release.REPOSITORY}/releases/download/{release.DATA_TAG}/"
    assert re.fullmatch(r"data-v\d+", release.DATA_TAG)
    distribution = _pyproject()["project"]["name"]
    assert release.COLAB_SPEC == f"{distribution} @ git+{release.REPOSITORY}@{release.RELEASE_TAG}"
    assert release.COLAB_PIP == f'pip install "{release.COLAB_SPEC}"'


def test_release_module_imports_nothing():
    """So that a script (or a notebook's first cell) can read it without torch: only ``from __future__``."""
    tree = ast.parse(Path(release.__file__).read_text(encoding="utf-8"))
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert all(isinstance(node, ast.ImportFrom) and node.module == "__future__" for node in imports)
