"""The runner the studies share: the command line (help, argument checks, one-line errors), stored results, records
that survive ``kill -9``, and two runners on one output folder."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from implicit.__main__ import main as implicit_main
from implicit.records import read_json
from implicit.studies import figure1, results_dir, runner, width

CMD = [sys.executable, "-m", "implicit"]
TINY_WIDTH = ["--profile", "fast", "--datasets", "sphere", "--ns", "8", "10", "12", "14", "--widths", "4", "16",
              "--seeds", "2", "--steps", "20", "--gammas", "0.1", "0.5", "--tag", "tiny", "--device", "cpu"]


def run_cli(args: list[str], cwd, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": "1"}  # no progress bars
    return subprocess.run(CMD + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kw)


# -- command line ----------------------------------------------------------------------------------------------------

def test_top_level_help_lists_each_command(capsys):
    assert implicit_main(["--help"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("  ")]
    assert [line.split()[0] for line in lines] == ["figure1", "width-study", "minibatch-study", "data"]
    assert implicit_main([]) == 2 and implicit_main(["nope"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err) and "'nope'" in err[1]


def test_command_help_exits_zero(capsys):
    assert width.main(["--help"]) == 0 and figure1.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--seeds" in out and "--n-train-per-class" in out


@pytest.mark.parametrize("main, args, message", [
    (width.main, ["--seeds", "0"], "argument --seeds: expected a positive integer, got '0'"),
    (width.main, ["--steps", "-3"], "argument --steps: expected a positive integer"),
    (width.main, ["--widths", "8", "0"], "argument --widths: expected a positive integer"),
    (width.main, ["--ns", "2.5"], "argument --ns: expected a positive integer"),
    (width.main, ["--gammas", "0.1", "0"], "argument --gammas: expected a positive finite number"),
    (width.main, ["--gammas", "nan"], "argument --gammas: expected a positive finite number"),
    (width.main, ["--datasets", "cifar10"], "argument --datasets: invalid choice"),
    (width.main, ["--datasets", "mnist", "--ns", "7"], "mnist with n=7: mnist takes n/2 images per class"),
    (width.main, ["--datasets", "digits", "--ns", "1000"], "digits with n=1000"),
    (width.main, ["--tag", "../x"], "argument --tag: expected letters, digits"),
    (width.main, ["--device", "abacus"], "--device"),
    (width.main, ["--profile", "huge"], "argument --profile: invalid choice"),
    (width.main, ["--frobnicate"], "unrecognized arguments: --frobnicate"),
    (figure1.main, ["--epochs", "0"], "argument --epochs: expected a positive integer"),
    (figure1.main, ["--n-test-per-class", "0"], "argument --n-test-per-class: expected a positive integer"),
    (figure1.main, ["--lr-scale", "-1"], "argument --lr-scale: expected a positive finite number"),
    (figure1.main, ["--datasets", "imagenet"], "argument --datasets: invalid choice"),
])
def test_user_errors_are_one_line_before_any_work(tmp_path, capsys, main, args, message):
    out = tmp_path / "out"
    assert main([*args, "--out", str(out), "--data-dir", str(tmp_path / "no-data")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert not out.exists()  # nothing was written


def test_missing_data_is_one_line(tmp_path, capsys):
    for main, args in [(figure1.main, ["--datasets", "mnist", "--widths", "8"]),
                       (width.main, ["--datasets", "mnist", "--ns", "8"])]:
        assert main([*args, "--out", str(tmp_path / "out"), "--data-dir", str(tmp_path)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: no offline copy of mnist"), err
    assert not (tmp_path / "out").exists()


def test_unusable_out_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert width.main(["--ns", "8", "--widths", "4", "--seeds", "1", "--steps", "1", "--datasets", "sphere",
                       "--out", str(tmp_path / "file" / "sub")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: --out {tmp_path}"), err


def test_no_traceback_from_the_real_entry_point(tmp_path):
    done = run_cli(["width-study", "--seeds", "0", "--out", "w"], tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "w").exists()


# -- stored results --------------------------------------------------------------------------------------------------

def test_stored_results_travel_with_the_package():
    folder = results_dir("figure1")
    assert folder.parent.name == "results" and folder.parent.parent.name == "implicit"
    records = figure1.load_results(folder)
    assert {r["config"]["profile"] for r in records} >= {"fast", "cpu"}
    study = width.load_study(results_dir("width"))
    assert study["path"].endswith("width-full.json") and study["groups"]
    for path in [*folder.glob("*.json"), *results_dir("width").glob("*.json")]:
        json.loads(path.read_text(), parse_constant=lambda token, p=path: pytest.fail(f"{p}: bare {token}"))
    with pytest.raises(ValueError, match="unknown study"):
        results_dir("nope")


# -- crashes and concurrency -----------------------------------------------------------------------------------------

WRITER = """
import sys
from implicit.records import write_json
record = {"history": list(range(20_000)), "note": "x" * 20_000_000}  # about half of each round is the write
print("ready", flush=True)
i = 0
while True:
    record["round"] = i
    write_json(sys.argv[1], record)
    i += 1
"""


@pytest.mark.parametrize("delay", [0.02, 0.13, 0.31])
def test_kill_9_mid_write_leaves_the_old_file_or_none(tmp_path, delay):
    target = tmp_path / "record.json"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    if target.exists():
        record = read_json(target, required=("history", "round"))
        assert len(record["history"]) == 20_000 and len(record["note"]) == 20_000_000
    assert all(p.name.startswith(".record.json.") for p in tmp_path.iterdir() if p != target)  # stray temporaries


def test_two_width_runners_share_one_folder(tmp_path):
    procs = [subprocess.Popen(CMD + ["width-study", *TINY_WIDTH, "--out", "w"], cwd=tmp_path,
                              env={**os.environ, "CI": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    lines = [line for out, _ in outs for line in out.splitlines()]
    computed = [line.split(":")[0] for line in lines if ": lambda0=" in line or line.startswith("gamma sweep sphere (")]
    groups = ["sphere n=8", "sphere n=10", "sphere n=12", "sphere n=14", "gamma sweep sphere (n=50, m=32)"]
    assert sorted(computed) == sorted(groups), lines  # each group exactly once, by one runner or the other
    study = width.load_study(tmp_path / "w" / "width-tiny.json")
    assert set(study["groups"]) == {"sphere/8", "sphere/10", "sphere/12", "sphere/14"}
    assert set(study["gamma_sweep"]) == {"sphere"}
    assert all(len(g["cells"]) == 4 for g in study["groups"].values())
    runs = [study["provenance"], *study.get("earlier_runs", [])]
    assert len(runs) == len({json.dumps(r, sort_keys=True) for r in runs}) <= 2  # each runner listed once


def test_lock_claims(tmp_path):
    path = runner.lock_path(tmp_path, "task")
    with runner.claimed(path, wait=False) as mine:
        assert mine
        with runner.claimed(path, wait=False) as theirs:
            assert not theirs
    with runner.claimed(path, wait=False) as again:
        assert again


def test_minibatch_study_refuses_a_device_it_would_ignore(capsys):
    from implicit.studies import minibatch

    assert minibatch.main(["--device", "meta", "--out", "unused"]) == 2
    assert "runs on the CPU" in capsys.readouterr().err
