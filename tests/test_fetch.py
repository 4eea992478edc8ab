"""Data on first use (implicit.fetch): lookup order, download into the cache, failures as one error, the CLI.

Every download here goes to a local HTTP server on 127.0.0.1 (an ephemeral port) serving tiny synthetic subsets whose
digests are put into the registry; an autouse fixture points the default address at a closed local port and the cache
at a temporary folder, so no test can reach the internet or touch the real cache.
"""
from __future__ import annotations

import hashlib
import http.server
import io
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from implicit import data, fetch, rawformats

# -- a local server ----------------------------------------------------------------------------------------------------

class Server:
    """A threaded HTTP server on 127.0.0.1 serving ``files`` (name -> bytes). ``requests`` lists the paths asked
    for; a name in ``truncate`` is answered with its full Content-Length but only half its bytes, then the
    connection is closed; for a name in ``midway`` the server calls that function after sending half the bytes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        self.midway: dict[str, object] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append(self.path)
                if name not in server.files:
                    self.send_error(404)
                    return
                body = server.files[name]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name in server.truncate:
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if name in server.midway:
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    server.midway[name]()
                    body = body[len(body) // 2:]
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_subset(seed: int = 0, per_class: int = 4) -> bytes:
    """The bytes of a valid ``.npz`` in the offline layout: ``per_class`` 28x28 images per class and split."""
    g = np.random.default_rng(seed)
    n = 4 * per_class
    arrays = {"images": g.integers(1, 256, (n, 28, 28), dtype=np.uint8),
              "labels": np.tile(np.repeat(np.array([0, 1], dtype=np.uint8), per_class), 2),
              "split": np.repeat(np.array([0, 1], dtype=np.uint8), 2 * per_class),
              "index": np.tile(np.arange(2 * per_class, dtype=np.int32), 2)}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def offline_defaults(tmp_path, monkeypatch):
    """No real network, no real cache: the cache is ``tmp_path/cache``, the default address a closed local port,
    IMPLICIT_DATA unset, no proxy for 127.0.0.1, no progress bar (CI)."""
    cache = tmp_path / "cache"
    monkeypatch.setattr(fetch, "cache_directory", lambda: cache)
    monkeypatch.setattr(fetch.release, "DATA_URL", f"http://127.0.0.1:{closed_port()}/release/")
    monkeypatch.delenv(fetch.DATA_ENV, raising=False)
    monkeypatch.delenv(fetch.URL_ENV, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("CI", "true")
    return cache


@pytest.fixture
def server(monkeypatch):
    """A local server holding a tiny ``mnist-01.npz`` whose digest is the registered one; IMPLICIT_DATA_URL names it."""
    srv = Server()
    body = tiny_subset()
    srv.files["mnist-01.npz"] = body
    monkeypatch.setitem(fetch.REGISTRY, "mnist", hashlib.sha256(body).hexdigest())
    monkeypatch.setitem(fetch.SIZES, "mnist", len(body))
    monkeypatch.setenv(fetch.URL_ENV, srv.url)
    yield srv
    srv.close()


def one_paragraph(message: str) -> None:
    assert "\n" not in message and len(message) < 700, message


def assert_nothing_cached(cache: Path) -> None:
    """No file at all in the cache: neither the subset nor a leftover temporary file."""
    left = sorted(p.name for p in cache.rglob("*")) if cache.exists() else []
    assert left == [], f"the cache holds {left}"


# -- (a) download on first use, then the cache -------------------------------------------------------------------------

def test_first_use_downloads_into_the_cache_and_then_reads_it_without_a_request(server, offline_defaults):
    b = data.load_binary("mnist", 2, 2, seed=0)
    assert b.X_train.shape == (4, 784) and b.info["source"] == "mnist-01.npz"
    path = offline_defaults / "mnist-01.npz"
    assert path.read_bytes() == server.files["mnist-01.npz"]
    assert server.requests == ["/data/mnist-01.npz"]
    assert sorted(p.name for p in offline_defaults.iterdir()) == ["mnist-01.npz"]  # no temporary file left
    again = data.load_binary("mnist", 2, 2, seed=0)
    assert server.requests == ["/data/mnist-01.npz"], "the second call must not ask the server"
    assert np.array_equal(again.X_train.numpy(), b.X_train.numpy())
    assert fetch.find("mnist") == path and data.data_directory() == offline_defaults


def test_a_cached_file_is_used_even_without_any_server(offline_defaults):
    offline_defaults.mkdir()
    (offline_defaults / "mnist-01.npz").write_bytes(tiny_subset())
    assert data.load_binary("mnist", 1, 1).X_test.shape == (2, 784)


def test_download_keeps_a_verified_copy_and_replaces_a_stale_one(server, offline_defaults):
    path = fetch.download("mnist")
    assert fetch.download("mnist") == path and len(server.requests) == 1  # already there with the right digest
    path.write_bytes(b"an older release")
    assert fetch.download("mnist") == path and len(server.requests) == 2
    assert fetch.sha256(path) == fetch.REGISTRY["mnist"]


# -- (b) corrupt file, (c) broken transfer, (d) dead server, 404 -------------------------------------------------------

def test_digest_mismatch_is_one_paragraph_and_caches_nothing(server, offline_defaults):
    server.files["mnist-01.npz"] = tiny_subset(seed=1)  # another file than the registered one
    with pytest.raises(fetch.DataUnavailableError) as err:
        data.load_binary("mnist", 2, 2)
    message = str(err.value)
    one_paragraph(message)
    for part in ("mnist-01.npz", str(offline_defaults), server.url + "mnist-01.npz", "SHA-256", "IMPLICIT_DATA",
                 "python -m implicit data fetch mnist"):
        assert part in message, (part, message)
    assert isinstance(err.value, FileNotFoundError)
    assert_nothing_cached(offline_defaults)


def test_interrupted_transfer_leaves_no_partial_file(server, offline_defaults):
    server.truncate.add("mnist-01.npz")
    with pytest.raises(fetch.DataUnavailableError, match="broke off") as err:
        fetch.find("mnist")
    one_paragraph(str(err.value))
    assert server.requests == ["/data/mnist-01.npz"]
    assert_nothing_cached(offline_defaults)


def test_a_transfer_in_progress_is_never_under_the_final_name(server, offline_defaults, monkeypatch):
    """Half-way through the transfer the bytes are in a temporary file in the cache folder, and the subset's name does
    not exist yet: a process killed at that moment leaves no file that a later run would take for the subset."""
    body = server.files["mnist-01.npz"] = tiny_subset(per_class=50)  # 157 kB: streamed in several blocks
    monkeypatch.setitem(fetch.REGISTRY, "mnist", hashlib.sha256(body).hexdigest())
    seen = []

    def look() -> None:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not any(p.stat().st_size for p in offline_defaults.glob("*")):
            time.sleep(0.01)
        seen.extend((p.name, p.stat().st_size) for p in offline_defaults.glob("*"))

    server.midway["mnist-01.npz"] = look
    path = fetch.find("mnist")
    assert seen and all(name != "mnist-01.npz" for name, _ in seen), seen
    assert any(size > 0 for _, size in seen), seen
    assert sorted(p.name for p in offline_defaults.iterdir()) == ["mnist-01.npz"]
    assert path.read_bytes() == body


def test_http_404_is_the_same_error(server, offline_defaults):
    del server.files["mnist-01.npz"]
    with pytest.raises(fetch.DataUnavailableError, match="HTTP 404") as err:
        data.load_binary("mnist", 2, 2)
    one_paragraph(str(err.value))
    assert_nothing_cached(offline_defaults)


def test_unreachable_default_address_fails_within_seconds(offline_defaults):
    """No IMPLICIT_DATA_URL: the default address (here a closed local port) is tried, and the error says so."""
    start = time.monotonic()
    with pytest.raises(fetch.DataUnavailableError, match="cannot be reached") as err:
        data.load_binary("mnist", 2, 2)
    assert time.monotonic() - start < 5
    message = str(err.value)
    one_paragraph(message)
    assert fetch.release.DATA_URL + "mnist-01.npz" in message and str(offline_defaults) in message
    assert "set IMPLICIT_DATA to a folder" in message and "python -m implicit data fetch mnist" in message
    assert_nothing_cached(offline_defaults)


def test_a_server_that_never_answers_times_out(monkeypatch, offline_defaults):
    """A listening socket that accepts (in the kernel) but never answers: the read timeout ends the wait."""
    monkeypatch.setattr(fetch, "TIMEOUT", (0.5, 0.5))
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        monkeypatch.setenv(fetch.URL_ENV, f"http://127.0.0.1:{silent.getsockname()[1]}/")
        start = time.monotonic()
        with pytest.raises(fetch.DataUnavailableError, match="did not answer"):
            fetch.find("mnist")
        assert time.monotonic() - start < 5
    assert_nothing_cached(offline_defaults)


def test_timeouts_are_short():
    connect, read = fetch.TIMEOUT
    assert 0 < connect <= 10 and 0 < read <= 10


# -- (e) offline folders never download --------------------------------------------------------------------------------

def test_implicit_data_without_the_file_is_an_error_naming_the_folder_and_nothing_is_downloaded(
        server, tmp_path, monkeypatch):
    folder = tmp_path / "offline"
    folder.mkdir()
    monkeypatch.setenv(fetch.DATA_ENV, str(folder))
    with pytest.raises(fetch.DataUnavailableError) as err:
        data.load_binary("mnist", 2, 2)
    message = str(err.value)
    one_paragraph(message)
    assert str(folder / "mnist-01.npz") in message and "IMPLICIT_DATA" in message
    assert "python -m implicit data fetch mnist" in message and "unset IMPLICIT_DATA" in message
    assert server.requests == []


def test_data_dir_wins_over_implicit_data_and_never_downloads(server, tmp_path, monkeypatch):
    env_folder, explicit = tmp_path / "env", tmp_path / "explicit"
    env_folder.mkdir(), explicit.mkdir()
    (env_folder / "mnist-01.npz").write_bytes(tiny_subset())
    monkeypatch.setenv(fetch.DATA_ENV, str(env_folder))
    assert fetch.find("mnist") == env_folder / "mnist-01.npz"
    with pytest.raises(fetch.DataUnavailableError, match="data_dir= names an offline folder"):
        data.load_binary("mnist", 2, 2, data_dir=explicit)
    assert server.requests == []


def test_offline_folder_is_read_before_the_cache(server, tmp_path, monkeypatch, offline_defaults):
    fetch.download("mnist")
    folder = tmp_path / "offline"
    folder.mkdir()
    (folder / "mnist-01.npz").write_bytes(tiny_subset(seed=2))
    monkeypatch.setenv(fetch.DATA_ENV, str(folder))
    assert fetch.find("mnist") == folder / "mnist-01.npz" and data.data_directory() == folder


# -- subsets that are not published, and torchvision -------------------------------------------------------------------

def test_svhn_is_not_published(server, offline_defaults):
    with pytest.raises(fetch.DataUnavailableError) as err:
        data.load_binary("svhn", 2, 2)
    message = str(err.value)
    one_paragraph(message)
    assert "no prepared svhn subset is published" in message and "download=True" in message
    assert "python -m implicit data prepare svhn" in message
    assert server.requests == []


def test_download_true_falls_back_to_torchvision_into_the_cache(monkeypatch, offline_defaults):
    """With download=True a failed release download hands over to download_binary (torchvision), into the cache."""
    calls = []

    def fake_download_binary(name, data_dir=None, root=None):
        calls.append((name, data_dir))
        folder = data.data_directory(data_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}-01.npz").write_bytes(tiny_subset())
        return folder / f"{name}-01.npz"

    monkeypatch.setattr(data, "download_binary", fake_download_binary)
    assert data.load_binary("svhn", 1, 1, download=True).info["source"] == "svhn-01.npz"
    assert data.load_binary("mnist", 1, 1, download=True).info["source"] == "mnist-01.npz"  # release unreachable
    assert calls == [("svhn", None), ("mnist", None)]
    assert sorted(p.name for p in offline_defaults.iterdir()) == ["mnist-01.npz", "svhn-01.npz"]


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown data set 'imagenet'"):
        fetch.find("imagenet")
    with pytest.raises(ValueError, match="no prepared subset of 'svhn'"):
        fetch.download("svhn")


def test_data_module_exposes_the_error():
    assert data.DataUnavailableError is fetch.DataUnavailableError
    assert issubclass(data.DataUnavailableError, FileNotFoundError)
    assert data.DATA_ENV == fetch.DATA_ENV


# -- the registry and the cache folder ---------------------------------------------------------------------------------

def test_registry_lists_the_three_prepared_subsets():
    assert set(fetch.REGISTRY) == set(fetch.SIZES) == {"mnist", "fashionmnist", "cifar10"}
    assert set(fetch.REGISTRY) < set(data.BINARY_DATASETS) == set(rawformats.RAW_FOLDERS)
    assert all(len(d) == 64 and int(d, 16) >= 0 for d in fetch.REGISTRY.values())
    assert 8e6 < sum(fetch.SIZES.values()) < 10e6  # "about 9 MB" in the README


def test_default_address_is_the_data_release(monkeypatch):
    monkeypatch.undo()  # the real release module values
    monkeypatch.delenv(fetch.URL_ENV, raising=False)
    assert fetch.base_url() == fetch.release.DATA_URL
    monkeypatch.setenv(fetch.URL_ENV, "http://127.0.0.1:1/mirror")
    assert fetch.base_url() == "http://127.0.0.1:1/mirror/"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the old default cache is a Linux path")
def test_cache_is_the_old_default_on_linux(monkeypatch):
    monkeypatch.undo()  # the real cache_directory
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert fetch.cache_directory() == Path.home() / ".cache" / "implicit-convergence"
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/else")
    assert fetch.cache_directory() == Path("/somewhere/else/implicit-convergence")


def test_progress_bar_unless_ci(server, monkeypatch, capfd):
    monkeypatch.delenv("CI")
    fetch.download("mnist")
    shown = capfd.readouterr().err
    assert "100%" in shown and f"downloading {server.url}mnist-01.npz" in shown
    (fetch.cache_directory() / "mnist-01.npz").unlink()
    monkeypatch.setenv("CI", "true")
    fetch.download("mnist")
    assert capfd.readouterr().err == ""


# -- (f) the command line ----------------------------------------------------------------------------------------------

def test_cli_list(server, capsys, offline_defaults):
    assert fetch.data_main(["list"]) == 0
    out = capsys.readouterr().out
    assert str(offline_defaults) in out and server.url in out
    rows = {line.split()[0]: line for line in out.splitlines()[4:]}
    assert set(rows) == {"mnist", "fashionmnist", "cifar10", "svhn"}
    assert "not cached" in rows["mnist"] and fetch.REGISTRY["cifar10"] in rows["cifar10"]
    assert "5.87 MB" in rows["fashionmnist"] and "no prepared subset" in rows["svhn"]
    fetch.download("mnist")
    assert fetch.data_main(["list"]) == 0
    out = capsys.readouterr().out
    assert f"cached: {offline_defaults / 'mnist-01.npz'}" in out
    assert server.requests == ["/data/mnist-01.npz"]  # list itself never downloads


def test_cli_fetch_prints_the_path(server, capsys, offline_defaults, tmp_path):
    assert fetch.data_main(["fetch", "mnist"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(offline_defaults / "mnist-01.npz") and captured.err == ""
    assert fetch.data_main(["fetch", "mnist", "--out", str(tmp_path / "copy")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "copy" / "mnist-01.npz")
    assert (tmp_path / "copy" / "mnist-01.npz").read_bytes() == server.files["mnist-01.npz"]


@pytest.mark.parametrize("argv, words", [
    (["fetch", "svhn"], "unknown subset 'svhn'"),
    (["fetch", "imagenet"], "unknown subset 'imagenet'"),
    (["fetch"], "required"),
    (["frobnicate"], "invalid choice"),
    ([], "choose a command"),
    (["prepare", "mnist"], "--raw"),
])
def test_cli_user_errors_are_one_line_and_exit_2(argv, words, server, capsys):
    assert fetch.data_main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], captured.err
    assert captured.out == "" and server.requests == []


def test_cli_failed_download_is_one_line_and_exit_1(server, capsys, offline_defaults):
    del server.files["mnist-01.npz"]
    assert fetch.data_main(["fetch", "all"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "HTTP 404" in lines[0]
    assert_nothing_cached(offline_defaults)


def test_cli_help_exits_0(capsys):
    assert fetch.data_main(["--help"]) == 0
    assert fetch.data_main(["fetch", "--help"]) == 0
    out = capsys.readouterr().out
    assert "python -m implicit data" in out and "``" not in out and ":func:" not in out


def test_cli_prepare_builds_a_subset_and_prints_its_digest(tmp_path, capsys):
    raw = tmp_path / "raw" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    g = np.random.default_rng(0)
    for images, labels in rawformats._IDX_FILES.values():
        pixels = g.integers(0, 256, (6, 28, 28), dtype=np.uint8)
        digits = np.array([0, 1, 2, 0, 1, 3], dtype=np.uint8)
        for name, array in ((images, pixels), (labels, digits)):
            header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
            (raw / name).write_bytes(header + array.tobytes())
    assert fetch.data_main(["prepare", "mnist", "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "out" / "mnist-01.npz"
    assert f"wrote {path}" in out and f"sha256 {fetch.sha256(path)}" in out
    assert data.load_binary("mnist", 2, 2, data_dir=tmp_path / "out").X_train.shape == (4, 784)


def test_cli_prepare_without_raw_files_is_one_line_and_exit_1(tmp_path, capsys):
    assert fetch.data_main(["prepare", "mnist", "--raw", str(tmp_path / "none"), "--out", str(tmp_path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot build mnist-01.npz")


def test_prepared_names_match_the_registry():
    from implicit import data, fetch

    assert set(data.PREPARED) == set(fetch.REGISTRY)
