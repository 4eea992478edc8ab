r"""Width in practice: the smallest widths at which Lemma 3.6's Gram conditions and Theorem 3.2's loss conclusion hold.

Each is judged separately and set against the widths the theorems demand; a :math:`\gamma` sweep goes to the edge
of well-posedness and past it.

The study is a grid of groups: one per data set and sample count :math:`n` (every width and seed trained by
:func:`~implicit.studies.cells.run_cell` and judged by :func:`~implicit.studies.criterion.judge`; the conditions on
:math:`G(0)` at initialisation on a wider grid; per criterion the rates over seeds and the minimal width; the theorem
widths), plus one :math:`\gamma` sweep per data set (:func:`~implicit.studies.cells.gamma_cell`). The measurements
live in :mod:`implicit.studies.cells`, the criteria and the aggregation in :mod:`implicit.studies.criterion`; both
are re-exported here.

Profiles (:data:`PROFILES`): ``fast`` (the book's live run, ≤ 40 s on 2 CPU cores), ``medium`` (CPU, ≤ 15 min),
``full`` (n up to 1000, one GPU, ≤ 3 min). Results go to one JSON file per profile with provenance, rewritten
atomically after each group; a rerun keeps the groups already there, and several runners can share one file: each
group is claimed with its own lock, and each merge re-reads the file under the file's lock. :func:`load_study` reads
it back; the book's results: ``load_study(results_dir("width"))``. Run from the shell:
``python -m implicit width-study --profile fast``.
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.std import tqdm

from ..claims import Claim
from ..kernels import lambda0
from ..measure import fit_power_law
from ..records import FileLock, read_json, write_json
from ..runtime import device_name, provenance, quiet
from .cells import DATA_SEED, DATASETS, SPHERE_DIM, g_event_cell, gamma_cell, make_data, run_cell
from .criterion import (
    CRITERIA,
    LOSS_PARTS,
    Criterion,
    breaks_first,
    criteria_of,
    criterion_from,
    criterion_rates,
    g_rates,
    judge,
    late_rate,
    minimal_width,
    success_rates,
    theorem_widths,
)
from .runner import (
    CommandError,
    Override,
    apply_overrides,
    command,
    device_from,
    lock_path,
    out_folder,
    parser,
    positive_float,
    read_record,
    run_claimed,
    tag,
)

__all__ = ["Criterion", "CRITERIA", "LOSS_PARTS", "Profile", "PROFILES", "DATASETS", "SPHERE_DIM", "DATA_SEED",
           "make_data", "run_cell", "judge", "late_rate", "criteria_of", "criterion_rates", "g_rates", "g_event_cell",
           "success_rates", "minimal_width", "theorem_widths", "gamma_cell", "breaks_first", "result_path",
           "run_study", "load_study", "summary_table", "main", "describe", "summary_rows",
           "fifty_step_facts", "check_fifty_steps", "growth_exponents", "check_growth", "long_rows", "long_facts",
           "check_long", "check_sweep"]

DESCRIPTION = ("Width study (implicit.studies.width): constant-step GD, alpha = eta/lambda_max(H(0)), K steps. Three "
               "criteria judged separately: gram_G = lambda_min(G) >= lambda0/2 at k=0 and k=K (Lemma 3.6 (i)); "
               "gram_H = the same for H; loss = completes K steps, Theorem 3.2 envelope at every k, late rate (fit "
               "over K/2..K, round-off left out) <= 1 - alpha lambda0/2; monotone loss recorded, in no criterion. "
               "Theorem widths with all hidden constants 1.")
#: Keys of every study file.
REQUIRED = ("settings", "groups", "gamma_sweep")


@dataclass(frozen=True)
class Profile:
    """The sizes of one study. ``seeds`` are the initialisation seeds ``0..seeds-1``.

    Attributes:
        datasets, ns, widths: the grid of the GD study. ``g_widths``: the (wider) grid of the init-only Lemma 3.3
            study. ``steps``: the budget :math:`K`. ``eta``: :math:`\\alpha = \\eta/\\lambda_{\\max}(H(0))`.
        gammas: the sweep's :math:`\\gamma` values (those :math:`\\ge 1` probe the forward solver only), at
            ``gamma_n`` samples and width ``gamma_m`` with ``gamma_seeds`` seeds and ``gamma_steps`` steps.

    Examples:
        >>> import dataclasses
        >>> from implicit.studies.width import PROFILES
        >>> fast = PROFILES["fast"]
        >>> fast.datasets, fast.ns, fast.widths, fast.seeds, fast.steps
        (('sphere', 'mnist'), (20, 50, 100), (2, 4, 8, 16, 32, 64), 5, 30)
        >>> dataclasses.replace(fast, name="wide", widths=(64, 128)).widths  # a variant of a profile
        (64, 128)
    """

    name: str
    datasets: tuple[str, ...]
    ns: tuple[int, ...]
    widths: tuple[int, ...]
    seeds: int
    steps: int
    g_widths: tuple[int, ...]
    gammas: tuple[float, ...]
    gamma_n: int
    gamma_m: int
    gamma_seeds: int
    gamma_steps: int
    eta: float = 1.0
    gamma: float = 0.1
    sphere_dim: int = SPHERE_DIM
    dtype: str = "float64"


_GAMMAS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.05, 1.1, 1.2, 1.5)

PROFILES: dict[str, Profile] = {
    # The book's live run: about 25 s on one idle CPU core.
    "fast": Profile("fast", ("sphere", "mnist"), (20, 50, 100), (2, 4, 8, 16, 32, 64), 5, 30,
                    (16, 64, 256, 1024, 4096), (0.1, 0.5, 0.7, 0.9, 0.99, 1.2), 50, 32, 2, 15),
    # CPU fallback for the stored data: about 10 min with 2 threads.
    "medium": Profile("medium", ("sphere", "mnist"), (50, 100, 200, 500), (2, 4, 8, 16, 32, 64, 128), 10, 50,
                      (32, 128, 512, 2048, 8192), _GAMMAS, 100, 64, 3, 50),
    # One GPU, about 3 min: launch-bound at about 3-5 ms per GD step (about 23 warm-started Picard iterations of
    # ~18 small kernels each, plus a host sync per iteration), 30k steps, plus 2 SVDs and 4 eigvalsh per cell.
    # Width 4 always fails at n >= 50 (medium profile), so the grid starts at 8 and reaches 256 for n = 1000.
    "full": Profile("full", ("sphere", "mnist"), (50, 100, 200, 500, 1000), (8, 16, 32, 64, 128, 256), 10, 50,
                    (128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768),
                    (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.05, 1.1, 1.2, 1.5),
                    200, 128, 2, 40),
}


def _settings(profile: Profile, criterion: Criterion) -> dict:
    return json.loads(json.dumps({"profile": asdict(profile), "criterion": asdict(criterion)}))


def _study_group(profile: Profile, criterion: Criterion, dataset: str, n: int, device: torch.device,
                 data_dir, bar: tqdm) -> dict:
    dtype = getattr(torch, profile.dtype)
    X, y, info = make_data(dataset, n, sphere_dim=profile.sphere_dim, data_dir=data_dir, dtype=dtype, device=device)
    lam0 = lambda0(X)
    start = time.perf_counter()
    cells = []
    for m in profile.widths:
        for seed in range(profile.seeds):
            cells.append(run_cell(X, y, m, seed, gamma=profile.gamma, steps=profile.steps, eta=profile.eta,
                                  lam0=lam0, criterion=criterion))
            bar.set_postfix_str(f"{dataset} n={n} m={m}", refresh=False)
            bar.update(1)
    g_cells = [g_event_cell(X, m, seed, lam0, criterion) for m in profile.g_widths if m >= n // 2
               for seed in range(profile.seeds)]
    widest = [c for c in cells if c["m"] == max(profile.widths) and "r0" in c]
    c_med = float(np.median([c["c"] for c in widest])) if widest else math.nan
    r0_med = float(np.median([c["r0"] for c in widest])) if widest else math.nan
    norm_X = float(torch.linalg.matrix_norm(X, 2))
    group = {"dataset": dataset, "n": n, "steps": profile.steps, "data": info, "lambda0": lam0, "norm_X": norm_X,
             "theorem_widths": theorem_widths(n, lam0, norm_X, c_med, r0_med, criterion.delta),
             "cells": cells, "g_cells": g_cells, "wall_s": time.perf_counter() - start}
    return _aggregate(group, criterion, keys=str)


def _aggregate(group: dict, criterion: Criterion, keys=int) -> dict:
    """Per criterion, the rates over seeds and the minimal width of a group, from its cell records, each judged again
    (``criteria``), so that a study stored before the criteria were separated reads the same way; ``keys`` types the
    width keys (``str`` for JSON)."""
    lam0 = group["lambda0"]
    for cell in group["cells"]:
        cell["criteria"] = criteria_of(cell, lam0, criterion)
    rates = {name: success_rates([{"m": c["m"], "ok": c["criteria"][name]} for c in group["cells"]], "ok")
             for name in CRITERIA}
    init = g_rates(group["g_cells"], lam0, criterion) if group["g_cells"] else {"gram_G0": {}, "lemma_3_3": {}}
    group["rates"] = {k: {keys(m): v for m, v in r.items()} for k, r in rates.items()}
    group["minimal_widths"] = {k: minimal_width(r, criterion.rate) for k, r in rates.items()}
    group["g_rates"] = {k: {keys(m): v for m, v in r.items()} for k, r in init.items()}
    group["g_minimal_widths"] = {k: minimal_width(r, criterion.rate) if r else {"stays": None, "first": None}
                                 for k, r in init.items()}
    return group


def _gamma_group(profile: Profile, criterion: Criterion, dataset: str, device: torch.device, data_dir,
                 bar: tqdm) -> dict:
    dtype = getattr(torch, profile.dtype)
    X, y, info = make_data(dataset, profile.gamma_n, sphere_dim=profile.sphere_dim, data_dir=data_dir, dtype=dtype,
                           device=device)
    lam0 = lambda0(X)
    start = time.perf_counter()
    points = []
    for gamma in profile.gammas:
        for seed in range(profile.gamma_seeds):
            points.append(gamma_cell(X, y, profile.gamma_m, seed, gamma, steps=profile.gamma_steps, eta=profile.eta,
                                     lam0=lam0, criterion=criterion))
            bar.set_postfix_str(f"{dataset} gamma={gamma}", refresh=False)
            bar.update(1)
    return {"dataset": dataset, "n": profile.gamma_n, "m": profile.gamma_m, "data": info, "lambda0": lam0,
            "points": points, "breaks": breaks_first(points), "wall_s": time.perf_counter() - start}


def result_path(out_dir: str | Path, profile: Profile) -> Path:
    """``<out_dir>/width-<profile name>.json``.

    Examples:
        >>> from implicit.studies.width import PROFILES, result_path
        >>> result_path("results/width", PROFILES["full"]).as_posix()
        'results/width/width-full.json'
    """
    return Path(out_dir) / f"width-{profile.name}.json"


class _Store:
    """The study's result file, shared between runners: reads are plain (writes are atomic), and every
    read-merge-write holds the file's lock, so no runner loses another's groups."""

    def __init__(self, path: Path, settings: dict, me: dict, log: Callable[[str], None]) -> None:
        self.path, self.settings, self.me = path, settings, me
        self.lock = FileLock(lock_path(path.parent, path.name))
        self._log = log
        self._said: set[str] = set()

    def log_once(self, line: str) -> None:
        if line not in self._said:
            self._said.add(line)
            self._log(line)

    def load(self) -> dict:
        """The stored record, or a fresh one if there is none, it is damaged, or it has other settings."""
        record = read_record(self.path, required=REQUIRED, log=self.log_once)
        if record is not None and record["settings"] != self.settings:
            self.log_once(f"{self.path} holds a study with other settings; starting it afresh")
            record = None
        return record if record is not None else {"settings": self.settings, "groups": {}, "gamma_sweep": {}}

    def has(self, section: str, key: str) -> bool:
        return key in self.load()[section]

    def merge(self, **fields: tuple[str, dict] | float) -> None:
        """Re-read the file, note this run's provenance, set ``section -> (key, value)`` pairs or plain fields, write
        it back; all under the file's lock."""
        with self.lock:
            record = self.load()
            others = []  # where the other groups ran: earlier or concurrent runs, each once
            for run in [*record.get("earlier_runs", []), record.get("provenance")]:
                if run is not None and run != self.me and run not in others:
                    others.append(run)
            record.pop("earlier_runs", None)
            if others:
                record["earlier_runs"] = others
            record["provenance"], record["description"] = self.me, DESCRIPTION
            for name, value in fields.items():
                if name in ("groups", "gamma_sweep"):
                    key, group = value
                    record[name][key] = group
                else:
                    record[name] = value
            write_json(self.path, record)


def _log_group(group: dict, ds: str, n: int, log: Callable[[str], None]) -> None:
    mw, th = group["minimal_widths"], group["theorem_widths"]
    log(f"{ds} n={n}: lambda0={group['lambda0']:.3g}, minimal widths gram_G {mw['gram_G']['stays']}, gram_H "
        f"{mw['gram_H']['stays']}, loss {mw['loss']['stays']} (K={group['steps']}; rates {group['rates']}), "
        f"Lemma 3.3 event {group['g_minimal_widths']['lemma_3_3']['stays']}, Thm 3.1 {th['theorem_3_1']:.2e}, "
        f"Lemma 3.5 {th['lemma_3_5']:.2e}, {group['wall_s']:.1f}s")


def run_study(profile: Profile, out_dir: str | Path = "results/width", *, criterion: Criterion = Criterion(),
              device: str | torch.device = "cpu", data_dir: str | Path | None = None, progress: bool | None = None,
              log: Callable[[str], None] = print) -> Path:
    """Run every group of ``profile`` (one per data set and :math:`n`, plus one :math:`\\gamma` sweep per data set)
    and merge each into ``width-<profile>.json`` in ``out_dir`` as it finishes. Groups already in the file with the
    same settings are kept, so an interrupted run restarts where it stopped; a damaged file is reported and started
    afresh; runners sharing the file split the groups between them. Returns the file's path.

    Examples:
        >>> import dataclasses, tempfile
        >>> from implicit.studies.width import PROFILES, load_study, run_study
        >>> tiny = dataclasses.replace(PROFILES["fast"], name="tiny", datasets=("sphere",), ns=(8,), widths=(4, 16),
        ...                            seeds=1, steps=5, g_widths=(16,), gammas=(0.1, 1.2), gamma_n=8, gamma_m=8,
        ...                            gamma_seeds=1)
        >>> path = run_study(tiny, tempfile.mkdtemp(), progress=False, log=lambda line: None)
        >>> study = load_study(path)
        >>> study["groups"]["sphere/8"]["rates"]["gram_H"]  # width 4 fails the H condition, width 16 meets it
        {4: 0.0, 16: 1.0}
        >>> study["groups"]["sphere/8"]["rates"]["loss"]  # over 5 steps the loss conclusion holds at both
        {4: 1.0, 16: 1.0}
        >>> study["gamma_sweep"]["sphere"]["breaks"]
        {'certificate': 1.2, 'solver': 1.2, 'training': None, 'first': 'certificate'}
    """
    device = torch.device(device)
    path = result_path(out_dir, profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = _Store(path, _settings(profile, criterion), provenance(device), log)
    stored = store.load()
    todo = [("groups", f"{ds}/{n}") for ds in profile.datasets for n in profile.ns
            if f"{ds}/{n}" not in stored["groups"]]
    todo += [("gamma_sweep", ds) for ds in profile.datasets if ds not in stored["gamma_sweep"]]
    per_group = len(profile.widths) * profile.seeds
    total = sum(per_group if s == "groups" else len(profile.gammas) * profile.gamma_seeds for s, _ in todo)
    bar = tqdm(total=total, disable=quiet() if progress is None else not progress, desc=f"width study ({profile.name})")
    begin, computed = time.perf_counter(), []

    def name(task: tuple[str, str]) -> str:
        section, key = task
        return key.replace("/", " n=") if section == "groups" else f"gamma sweep {key}"

    def work(task: tuple[str, str]) -> None:
        section, key = task
        if store.has(section, key):
            log(f"{name(task)}: done by another runner, kept")
            return
        if section == "groups":
            ds, n = key.split("/")
            group = _study_group(profile, criterion, ds, int(n), device, data_dir, bar)
        else:
            group = _gamma_group(profile, criterion, key, device, data_dir, bar)
        group["device"] = device_name(device)  # a resumed file may mix devices; each group says where it ran
        store.merge(**{section: (key, group)})
        computed.append(task)
        if section == "groups":
            _log_group(group, ds, int(n), log)
        else:
            log(f"gamma sweep {key} (n={group['n']}, m={group['m']}): breaks {group['breaks']}, "
                f"{group['wall_s']:.1f}s")

    try:
        run_claimed(todo, lambda t: lock_path(out_dir, f"{path.name}.{t[0]}.{t[1].replace('/', '-')}"), work,
                    name_of=name, log=log)
    finally:
        bar.close()
    if computed:
        store.merge(wall_s_this_run=time.perf_counter() - begin)
    return path


def load_study(source: str | Path, profile: str | None = None) -> dict:
    r"""Read a study written by :func:`run_study`: a file, or a folder plus ``profile`` (default: ``full`` if present,
    else ``medium``, else ``fast``); ``path`` is the file read. Every group's cells are judged again with the study's
    criterion (:func:`~implicit.studies.criterion.criteria_of`), so each group has, whatever version wrote it,
    ``rates`` and ``minimal_widths`` per criterion (``gram_G``, ``gram_H``, ``loss``), ``g_rates`` and
    ``g_minimal_widths`` for :math:`G(0)` on the wider grid (``gram_G0``, ``lemma_3_3``), and ``steps``; rate keys
    are widths (ints). A damaged or incomplete file raises :class:`~implicit.records.RecordError` naming it.

    Examples:
        >>> import pathlib
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study
        >>> study = load_study(results_dir("width"))  # the book's stored study: full profile, 50 steps
        >>> pathlib.Path(study["path"]).name
        'width-full.json'
        >>> rates = study["groups"]["sphere/1000"]["rates"]  # over 10 seeds; the keys are widths (ints)
        >>> rates["gram_H"]
        {8: 0.0, 16: 0.0, 32: 0.0, 64: 0.0, 128: 0.9, 256: 1.0}
        >>> rates["gram_G"][256], rates["loss"][8]  # G has rank <= m < n; over 50 steps every run passes the loss
        (0.0, 1.0)
    """
    path = Path(source)
    if path.is_dir():
        names = [profile] if profile else ["full", "medium", "fast"]
        found = [path / f"width-{p}.json" for p in names if (path / f"width-{p}.json").exists()]
        if not found:
            raise FileNotFoundError(f"no width-{{{','.join(names)}}}.json in {path}")
        path = found[0]
    record = read_json(path, required=REQUIRED)
    criterion = criterion_from(record["settings"])
    for group in record["groups"].values():
        for key in ("success_rate", "g_event_rate"):  # fields of studies stored before the criteria were separated
            if key in group:
                group[key] = {int(m): v for m, v in group[key].items()}
        group.setdefault("steps", record["settings"]["profile"]["steps"])
        _aggregate(group, criterion)
    record["path"] = str(path)
    return record


def summary_table(study: dict) -> list[dict]:
    r"""One row per (data set, n) of a study read by :func:`load_study`: :math:`\lambda_0`, the horizon ``steps``,
    the minimal width of each criterion on the training grid (``m_min_gram_G``, ``m_min_gram_H``, ``m_min_loss``),
    of the two conditions on :math:`G(0)` on the wider grid (``m_min_gram_G0``, ``m_min_lemma33_event``), and the
    theorem widths. ``None``: not reached on the grid.

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study, summary_table
        >>> rows = summary_table(load_study(results_dir("width")))
        >>> for r in rows[5:]:  # sphere: the width each criterion needs against Theorem 3.1's (constants 1)
        ...     print(r["dataset"], r["n"], r["m_min_gram_H"], r["m_min_gram_G"], r["m_min_gram_G0"],
        ...           f"{r['theorem_3_1']:.0e}")
        sphere 50 16 256 256 2e+07
        sphere 100 32 None 512 4e+08
        sphere 200 32 None 1024 6e+09
        sphere 500 128 None 4096 6e+10
        sphere 1000 128 None 8192 5e+11
    """
    rows = []
    for group in study["groups"].values():
        th, mw, gw = group["theorem_widths"], group["minimal_widths"], group["g_minimal_widths"]
        rows.append({"dataset": group["dataset"], "n": group["n"], "lambda0": group["lambda0"],
                     "steps": group["steps"], **{f"m_min_{k}": mw[k]["stays"] for k in CRITERIA},
                     "m_min_gram_G0": gw["gram_G0"]["stays"], "m_min_lemma33_event": gw["lemma_3_3"]["stays"],
                     "theorem_3_1": th["theorem_3_1"], "lemma_3_5": th["lemma_3_5"]})
    return sorted(rows, key=lambda r: (r["dataset"], r["n"]))


# -- command line ----------------------------------------------------------------------------------------------------

OVERRIDES = (
    Override("datasets", "override the profile's data sets", kind=str, many=True, choices=DATASETS),
    Override("ns", "override the profile's sample counts", many=True),
    Override("widths", "override the profile's widths", many=True),
    Override("seeds", "override the number of seeds"),
    Override("steps", "override the step budget K"),
    Override("gammas", "override the gamma sweep's values", kind=positive_float, many=True),
    Override("name", "profile name written into the file name and settings", kind=tag, flag="tag"),
)


def _check_data(profile: Profile, data_dir: str | None) -> None:
    """Draw every training set once before any training (odd n for MNIST, too many digits, missing files)."""
    for ds in profile.datasets:
        for n in sorted({*profile.ns, profile.gamma_n}):
            try:
                make_data(ds, n, sphere_dim=profile.sphere_dim, data_dir=data_dir)
            except (FileNotFoundError, ImportError) as err:
                raise CommandError(str(err), status=1) from None
            except ValueError as err:
                raise CommandError(f"{ds} with n={n}: {err}") from None


@command
def main(argv: list[str]) -> None:
    """``python -m implicit width-study [--profile fast|medium|full] [--device cpu|cuda] [--out DIR] ...``.

    Returns the exit status: 0, or 2 for an invalid argument and 1 for missing data (one ``error: ...`` line on
    stderr).

    Examples:
        >>> import tempfile
        >>> from implicit.studies.width import main
        >>> main(["--datasets", "sphere", "--ns", "8", "--widths", "4", "16", "--seeds", "1", "--steps", "5",
        ...       "--gammas", "0.1", "--tag", "tiny", "--out", tempfile.mkdtemp(), "--device", "cpu"])
        sphere n=8: lambda0=0.123, minimal widths gram_G None, gram_H 16, loss 4 (K=5; rates ...
        gamma sweep sphere (n=50, m=32): breaks {...}, ...s
        wrote /.../width-tiny.json
          sphere  n=    8 lambda0=0.123 K=5  m_min: gram_G=None gram_H=16 loss=4 G(0)>=lambda0/2=16 Lemma3.3=256 ...
        0
    """
    p = parser("python -m implicit width-study", __doc__.splitlines()[0], PROFILES, OVERRIDES,
               default_out="results/width")
    args = p.parse_args(argv)
    profile = apply_overrides(PROFILES[args.profile], args, OVERRIDES)
    device = device_from(args)
    _check_data(profile, args.data_dir)
    path = run_study(profile, out_folder(args.out), device=device, data_dir=args.data_dir)
    print(f"wrote {path}")
    for row in summary_table(load_study(path)):
        print(f"  {row['dataset']:7s} n={row['n']:5d} lambda0={row['lambda0']:.3g} K={row['steps']}  m_min: "
              f"gram_G={row['m_min_gram_G']} gram_H={row['m_min_gram_H']} loss={row['m_min_loss']} "
              f"G(0)>=lambda0/2={row['m_min_gram_G0']} Lemma3.3={row['m_min_lemma33_event']}  "
              f"Thm3.1={row['theorem_3_1']:.2e}  Lemma3.5={row['lemma_3_5']:.2e}")


# -- the chapter's reading of the stored studies ---------------------------------------------------------------------

def describe(study: dict) -> str:
    """One line on where a study read by :func:`load_study` comes from: its file, seeds per width, the horizon
    :math:`K`, and each run that wrote groups to it (device, threads, torch, date).

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import describe, load_study
        >>> print(describe(load_study(results_dir("width"), "long")))
        width-long.json: 10 seeds per width, K = 5000 steps; run on AMD EPYC (1 thread, torch 2.13.0+cpu, 2026-12-01)
    """
    profile = study["settings"]["profile"]
    runs = [*study.get("earlier_runs", []), study["provenance"]]
    where = "; ".join(f"{r['device']} ({r['threads']} thread{'s' * (r['threads'] != 1)}, torch {r['torch']}, "
                      f"{r['date'][:10]})" for r in runs)
    name = Path(study["path"]).name
    return f"{name}: {profile['seeds']} seeds per width, K = {profile['steps']} steps; run on {where}"


def _width_text(m: int | None, top: int) -> str:
    return f"> {top}" if m is None else str(m)


def summary_rows(study: dict) -> list[dict[str, str]]:
    r""":func:`summary_table` as the book prints it: per data set and :math:`n`, :math:`\lambda_0`, the minimal widths
    of the Gram conditions for :math:`G` and :math:`H` along the :math:`K` steps, of :math:`\lambda_{\min}(G(0))\ge
    \lambda_0/2` and of Lemma 3.3's event :math:`\lambda_{\min}(G(0))\ge 3\lambda_0/4` on the wider grid (``> top``:
    not reached on the grid), and the theorem widths (constants 1).

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study, summary_rows
        >>> row = summary_rows(load_study(results_dir("width"), "long"))[0]
        >>> row["data"], row["n"], row["G along K"], row["H along K"], row["Theorem 3.1"]
        ('mnist', 50, '> 64', '16', '4e+08')
    """
    profile = study["settings"]["profile"]
    top, top_init = max(profile["widths"]), max(profile["g_widths"] or [1])
    return [{"data": r["dataset"], "n": r["n"], "λ₀": f"{r['lambda0']:.2g}",
             "G along K": _width_text(r["m_min_gram_G"], top),
             "G(0) ≥ λ₀/2": _width_text(r["m_min_gram_G0"], top_init),
             "Lemma 3.3": _width_text(r["m_min_lemma33_event"], top_init),
             "H along K": _width_text(r["m_min_gram_H"], top),
             "Theorem 3.1": f"{r['theorem_3_1']:.0e}", "Lemma 3.5": f"{r['lemma_3_5']:.0e}"}
            for r in summary_table(study)]


def _inf(m: int | None) -> float:
    return math.inf if m is None else float(m)


def _envelope_ends(group: dict) -> list[float]:
    """Theorem 3.2's envelope :math:`(1-\\alpha\\lambda_0/2)^K` at the last step, per run of a group."""
    return [(1 - c["lr"] * group["lambda0"] / 2) ** group["steps"] for c in group["cells"] if "lr" in c]


def _speedups(group: dict) -> list[float]:
    """Per run with a late rate: how many times faster per step than the theorem, (1 - rate)/(alpha lambda0/2)."""
    return [(1 - c["rate_second_half"]) / (c["lr"] * group["lambda0"] / 2) for c in group["cells"]
            if c.get("rate_second_half") is not None and "lr" in c]


def fifty_step_facts(study: dict) -> dict[str, float]:
    r"""What the chapter reads off the study with the short horizon (:math:`K = 50`, :math:`n` up to 1000):

    * ``G0_over_n_min``, ``G0_over_n_max``: the minimal width of :math:`\lambda_{\min}(G(0))\ge\lambda_0/2` over
      :math:`n`, smallest and largest over the groups;
    * ``gap_lemma_3_3``, ``gap_H``: Theorem 3.1's width (constants 1) over the measured minimal width of Lemma 3.3's
      event and of the :math:`H` condition, smallest over the groups; ``lemma_3_5_over_theorem_3_1`` likewise;
    * ``H_width_max``: the largest minimal width of the :math:`H` condition (``inf`` if a group never reaches it);
      ``top_width``: the widest width of the grid; ``G_rate_smallest_n``: the rate of the :math:`G` condition at the
      smallest :math:`n` and the widest width (smallest over data sets);
    * ``loss_rate``: the fraction of runs meeting the loss criterion; ``envelope_min``/``_max``: Theorem 3.2's
      envelope :math:`(1-\alpha\lambda_0/2)^K`; ``speedup_min``/``_max``: the late rate's decay per step over the
      theorem's :math:`\alpha\lambda_0/2`; ``H_failures`` and ``H_failures_at_init``: runs failing the :math:`H`
      condition, and those failing it already at :math:`k = 0`; ``runs``, ``steps``.

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import fifty_step_facts, load_study
        >>> f = fifty_step_facts(load_study(results_dir("width"), "long"))  # works on any study; here K = 5000
        >>> f["runs"], f["steps"], f["H_failures"], f["loss_rate"]
        (80, 5000, 14, 0.9375)
    """
    rows = summary_table(study)
    groups = list(study["groups"].values())
    cells = [(g, c) for g in groups for c in g["cells"]]
    profile = study["settings"]["profile"]
    top, n_min = max(profile["widths"]), min(g["n"] for g in groups)
    failed_H = [(g, c) for g, c in cells if not c["criteria"]["gram_H"]]
    ratio_G0 = [_inf(r["m_min_gram_G0"]) / r["n"] for r in rows]
    envelope = [e for g in groups for e in _envelope_ends(g)]
    speedup = [s for g in groups for s in _speedups(g)]
    return {"steps": profile["steps"], "runs": len(cells), "top_width": top,
            "H_width_max": max(_inf(r["m_min_gram_H"]) for r in rows),
            "G_rate_smallest_n": min(g["rates"]["gram_G"].get(top, 0.0) for g in groups if g["n"] == n_min),
            "G0_over_n_min": min(ratio_G0), "G0_over_n_max": max(ratio_G0),
            "gap_lemma_3_3": min(r["theorem_3_1"] / _inf(r["m_min_lemma33_event"]) for r in rows),
            "gap_H": min(r["theorem_3_1"] / _inf(r["m_min_gram_H"]) for r in rows),
            "lemma_3_5_over_theorem_3_1": min(r["lemma_3_5"] / r["theorem_3_1"] for r in rows),
            "loss_rate": sum(c["criteria"]["loss"] for _, c in cells) / len(cells),
            "envelope_min": min(envelope), "envelope_max": max(envelope),
            "speedup_min": min(speedup, default=math.nan), "speedup_max": max(speedup, default=math.nan),
            "H_failures": len(failed_H),
            "H_failures_at_init": sum(c.get("lambda_min_H0", 0.0) < 0.5 * g["lambda0"] for g, c in failed_H)}


def check_fifty_steps(study: dict) -> dict[str, Claim]:
    r"""The chapter's claims on the study with the short horizon, from :func:`fifty_step_facts`. Ids:
    ``H-on-grid`` and ``G-at-5n`` (Lemma 3.6's Gram conditions, for :math:`H` and :math:`G`), ``G0-above-n`` and
    ``G0-within-10n`` (the minimal width of :math:`\lambda_{\min}(G(0))\ge\lambda_0/2` lies between :math:`n` and
    :math:`10n`), ``gap-lemma-3.3`` and ``gap-H`` (Theorem 3.1's width is at least :math:`10^4` and :math:`10^5`
    times the measured ones), ``lemma-3.5-wider`` and ``loss-all`` (every run meets the loss criterion on this
    horizon).

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import check_fifty_steps, load_study
        >>> checks = check_fifty_steps(load_study(results_dir("width")))
        >>> len(checks), all(c.holds for c in checks.values())
        (8, True)
    """
    f, K = fifty_step_facts(study), study["settings"]["profile"]["steps"]
    claims = [
        Claim("H-on-grid", f"largest minimal width of λ_min(H) ≥ λ₀/2 at k = 0, {K} ≤ widest width of the grid",
              f["H_width_max"], "<=", f["top_width"], "lemma-3.6"),
        Claim("G-at-5n", f"rate of λ_min(G) ≥ λ₀/2 at k = 0, {K} at the smallest n, m = {f['top_width']}",
              f["G_rate_smallest_n"], ">=", 0.9, "lemma-3.6"),
        Claim("G0-above-n", "minimal width of λ_min(G(0)) ≥ λ₀/2 over n, smallest over the groups",
              f["G0_over_n_min"], ">", 1.0),
        Claim("G0-within-10n", "minimal width of λ_min(G(0)) ≥ λ₀/2 over n, largest over the groups",
              f["G0_over_n_max"], "<=", 10.0, "lemma-3.6"),
        Claim("gap-lemma-3.3", "Theorem 3.1's width (constants 1) / measured width of Lemma 3.3's event",
              f["gap_lemma_3_3"], ">=", 1e4),
        Claim("gap-H", "Theorem 3.1's width (constants 1) / measured width of the H condition", f["gap_H"], ">=", 1e5),
        Claim("lemma-3.5-wider", "Lemma 3.5's width / Theorem 3.1's width, smallest over the groups",
              f["lemma_3_5_over_theorem_3_1"], ">=", 1.0),
        Claim("loss-all", f"fraction of runs meeting the loss criterion over K = {K} steps", f["loss_rate"], ">=", 1.0),
    ]
    return {c.id: c for c in claims}


def growth_exponents(study: dict) -> dict[str, dict[str, float]]:
    r"""Per data set, the exponent :math:`s` of a power-law fit :math:`m \propto n^s`
    (:func:`implicit.measure.fit_power_law`) of the minimal width of each condition over the groups' :math:`n`:
    ``gram_H`` (along the run), ``gram_G0`` and ``lemma_3_3`` (on :math:`G(0)`), and of Theorem 3.1's width
    ``theorem_3_1``. Groups where the condition is never reached are left out of its fit.

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import growth_exponents, load_study
        >>> s = growth_exponents(load_study(results_dir("width")))
        >>> {k: round(v, 2) for k, v in s["sphere"].items()}
        {'gram_H': 0.74, 'gram_G0': 1.19, 'lemma_3_3': 1.18, 'theorem_3_1': 3.3}
    """
    keys = {"gram_H": "m_min_gram_H", "gram_G0": "m_min_gram_G0", "lemma_3_3": "m_min_lemma33_event",
            "theorem_3_1": "theorem_3_1"}
    rows = summary_table(study)
    out = {}
    for ds in sorted({r["dataset"] for r in rows}, reverse=True):
        fits = {}
        for name, key in keys.items():
            pts = [(r["n"], r[key]) for r in rows if r["dataset"] == ds and r[key] is not None]
            fits[name] = fit_power_law(*zip(*pts, strict=True))[0] if len(pts) > 1 else math.nan
        out[ds] = fits
    return out


def check_growth(study: dict) -> dict[str, Claim]:
    r"""How the minimal widths grow with :math:`n` (:func:`growth_exponents`): per data set ``H-sublinear-<ds>``
    (exponent below 1), ``G0-linear-<ds>`` and ``lemma-3.3-linear-<ds>`` (exponent between 0.7 and 1.4, written
    :math:`|s - 1.05| \le 0.35`), ``theorem-superlinear-<ds>`` (Theorem 3.1's exponent above 1); and ``H-below-n``:
    for :math:`n \ge 100` the :math:`H` condition holds below :math:`m = n`.

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import check_growth, load_study
        >>> checks = check_growth(load_study(results_dir("width")))
        >>> len(checks), all(c.holds for c in checks.values())
        (9, True)
    """
    claims = []
    for ds, s in growth_exponents(study).items():
        claims += [
            Claim(f"H-sublinear-{ds}", f"{ds}: exponent of the H condition's minimal width in n", s["gram_H"], "<", 1),
            Claim(f"G0-linear-{ds}", f"{ds}: |exponent of λ_min(G(0)) ≥ λ₀/2's minimal width − 1.05|",
                  abs(s["gram_G0"] - 1.05), "<=", 0.35),
            Claim(f"lemma-3.3-linear-{ds}", f"{ds}: |exponent of Lemma 3.3's event's minimal width − 1.05|",
                  abs(s["lemma_3_3"] - 1.05), "<=", 0.35),
            Claim(f"theorem-superlinear-{ds}", f"{ds}: exponent of Theorem 3.1's width in n", s["theorem_3_1"], ">", 1)]
    ratio = max(_inf(r["m_min_gram_H"]) / r["n"] for r in summary_table(study) if r["n"] >= 100)
    claims.append(Claim("H-below-n", "largest minimal width of the H condition over n, for n ≥ 100", ratio, "<", 1))
    return {c.id: c for c in claims}


def _by_dataset(study: dict) -> list[dict]:
    """The groups, sphere first, then by n."""
    return sorted(study["groups"].values(), key=lambda g: (g["dataset"] != "sphere", g["dataset"], g["n"]))


def long_rows(study: dict) -> list[dict]:
    r"""Per group and width of a study (meant for the long horizon): the rates over seeds of the three criteria
    (``G``, ``H``, ``loss``), the runs that stopped early, and, among the completed runs, how many left Theorem 3.2's
    envelope, had a late rate slower than the theorem's, or had a step at which the loss rose (part of no criterion).

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study, long_rows
        >>> print(long_rows(load_study(results_dir("width"), "long"))[0])
        {'data': 'sphere', 'n': 50, 'm': 8, 'G': 0.0, 'H': 0.2, 'loss': 0.5, 'stopped': 0, 'left envelope': 2,
         'late rate slow': 5, 'loss rose': 7}
    """
    rows = []
    for g in _by_dataset(study):
        for m in sorted(g["rates"]["loss"]):
            cells = [c for c in g["cells"] if c["m"] == m]
            done = [c["checks"] for c in cells if c["checks"].get("completed")]
            rows.append({"data": g["dataset"], "n": g["n"], "m": m,
                         **{k: g["rates"][name][m] for k, name in zip("GH", ("gram_G", "gram_H"), strict=True)},
                         "loss": g["rates"]["loss"][m], "stopped": len(cells) - len(done),
                         "left envelope": sum(not c["envelope"] for c in done),
                         "late rate slow": sum(not c["late_rate"] for c in done),
                         "loss rose": sum(not c["monotone"] for c in done)})
    return rows


def long_facts(study: dict) -> dict[str, float]:
    r"""What the chapter reads off the study with the long horizon: Theorem 3.2's envelope at :math:`k = K`
    (``envelope_min_<ds>``, ``envelope_max_<ds>``), the runs meeting the loss criterion (``passing``), those of them
    at round-off before :math:`K/2` (``at_floor``), how many times faster per step than the theorem the others decay
    (``speedup_min``, ``speedup_max``), and the runs by (:math:`H` condition, loss criterion): ``H_and_loss``,
    ``H_only``, ``loss_only``, ``neither``.

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study, long_facts
        >>> f = long_facts(load_study(results_dir("width"), "long"))
        >>> f["passing"], f["at_floor"], f["H_and_loss"], f["H_only"], f["loss_only"], f["neither"]
        (75, 29, 66, 0, 9, 5)
    """
    out: dict[str, float] = {}
    for g in _by_dataset(study):
        ends = _envelope_ends(g)
        out[f"envelope_min_{g['dataset']}"], out[f"envelope_max_{g['dataset']}"] = min(ends), max(ends)
    cells = [(g, c) for g in study["groups"].values() for c in g["cells"]]
    passing = [(g, c) for g, c in cells if c["criteria"]["loss"]]
    speedup = [s for g, c in passing for s in _speedups({**g, "cells": [c]})]
    pairs = [(c["criteria"]["gram_H"], c["criteria"]["loss"]) for _, c in cells]
    return {**out, "passing": len(passing), "at_floor": sum(c["rate_second_half"] is None for _, c in passing),
            "speedup_min": min(speedup), "speedup_max": max(speedup), "H_and_loss": pairs.count((True, True)),
            "H_only": pairs.count((True, False)), "loss_only": pairs.count((False, True)),
            "neither": pairs.count((False, False))}


def check_long(study: dict, wide: int = 16) -> dict[str, Claim]:
    r"""The chapter's claims on the study with the long horizon (:math:`K = 5000`, :math:`n = 50`). Ids:
    ``envelope-bites`` (on the sphere Theorem 3.2's envelope ends at most at 0.2, so it can fail),
    ``loss-fails-narrow`` (on the sphere at the narrowest width at most half of the runs meet the loss criterion);
    per data set ``loss-<ds>`` (Theorem 3.2's loss conclusion holds in every run from width ``wide`` on),
    ``loss-before-H-<ds>`` (its minimal width is at most the :math:`H` condition's) and ``no-G-<ds>`` (no run meets
    the :math:`G` condition: the largest :math:`\min(\lambda_{\min}(G(0)), \lambda_{\min}(G(K)))/(\lambda_0/2)` is
    below 1); ``H-then-loss`` (every run meeting the :math:`H` condition meets the loss criterion) and
    ``completed`` (every run completes its steps).

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import check_long, load_study
        >>> checks = check_long(load_study(results_dir("width"), "long"))
        >>> len(checks), all(c.holds for c in checks.values()), checks["loss-sphere"].result
        (10, True, 'theorem-3.2')
    """
    groups = _by_dataset(study)
    sphere = [g for g in groups if g["dataset"] == "sphere"]
    cells = [c for g in groups for c in g["cells"]]
    claims = [Claim("envelope-bites", "largest (1 − αλ₀/2)^K on the sphere",
                    max(max(_envelope_ends(g)) for g in sphere), "<=", 0.2),
              Claim("loss-fails-narrow", "rate of the loss criterion on the sphere at the narrowest width",
                    max(g["rates"]["loss"][min(g["rates"]["loss"])] for g in sphere), "<=", 0.5)]
    for g in groups:
        ds, mw = g["dataset"], g["minimal_widths"]
        lam = [min(c.get("lambda_min_G0") or 0.0, c.get("lambda_min_GK") or 0.0) for c in g["cells"]]
        claims += [
            Claim(f"loss-{ds}", f"{ds}: smallest rate of the loss criterion over widths ≥ {wide} (K = {g['steps']})",
                  min(r for m, r in g["rates"]["loss"].items() if m >= wide), ">=", 1.0, "theorem-3.2"),
            Claim(f"loss-before-H-{ds}", f"{ds}: minimal width of the loss criterion, against the H condition's",
                  _inf(mw["loss"]["stays"]), "<=", _inf(mw["gram_H"]["stays"])),
            Claim(f"no-G-{ds}", f"{ds}: largest min(λ_min(G(0)), λ_min(G(K))) / (λ₀/2) over the runs",
                  max(lam) / (0.5 * g["lambda0"]), "<", 1.0)]
    with_H = [c for c in cells if c["criteria"]["gram_H"]]
    claims += [Claim("H-then-loss", "fraction of the runs meeting the H condition that meet the loss criterion",
                     sum(c["criteria"]["loss"] for c in with_H) / len(with_H), ">=", 1.0),
               Claim("completed", "fraction of the runs that complete their K steps",
                     sum(bool(c["checks"].get("completed")) for c in cells) / len(cells), ">=", 1.0)]
    return {c.id: c for c in claims}


def check_sweep(study: dict) -> dict[str, Claim]:
    r"""The chapter's claims on the :math:`\gamma` sweeps (worst over data sets): ``certificate-breaks`` (the
    certificate fails in most seeds from :math:`\gamma \le 0.6`), ``certificate-first`` (before the solver and
    training: the ratio of its break point to the earliest other one is below 1), ``solver-edge`` (the solver
    converges in most seeds up to :math:`\gamma \ge 1`), ``half-below``, ``half-above`` (at :math:`\gamma = 0.5` the
    certified factor straddles 1: one seed below, one above), ``training-late`` (training fails only at
    :math:`\gamma \ge 0.95`) and ``training-solver`` (every such failure is a forward solve that did not converge).

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import check_sweep, load_study
        >>> checks = check_sweep(load_study(results_dir("width")))
        >>> len(checks), all(c.holds for c in checks.values())
        (7, True)
    """
    sweeps = list(study["gamma_sweep"].values())
    breaks = [s["breaks"] for s in sweeps]
    half = [[q["certified_factor"] for q in s["points"] if q["gamma"] == 0.5] for s in sweeps]
    failed = [q for s in sweeps for q in s["points"] if q["gamma"] < 1 and q.get("train_success") is False]
    first = max(b["certificate"] / min(_inf(b["solver"]), _inf(b["training"])) for b in breaks)
    claims = [
        Claim("certificate-breaks", "γ at which the certificate fails in most seeds, largest over data sets",
              max(_inf(b["certificate"]) for b in breaks), "<=", 0.6),
        Claim("certificate-first", "certificate's break point over the earliest of the solver's and training's",
              first, "<", 1.0),
        Claim("solver-edge", "γ at which the Picard solver fails in most seeds, smallest over data sets",
              min(_inf(b["solver"]) for b in breaks), ">=", 1.0),
        Claim("half-below", "smallest certified factor at γ = 0.5, largest over data sets", max(map(min, half)),
              "<", 1),
        Claim("half-above", "largest certified factor at γ = 0.5, smallest over data sets", min(map(max, half)),
              ">", 1),
        Claim("training-late", "smallest γ < 1 at which a training run fails", min((q["gamma"] for q in failed),
              default=math.inf), ">=", 0.95),
        Claim("training-solver", "fraction of the failed training runs stopped by a forward solve",
              float(np.mean([("ConvergenceError" in (q.get("train_stopped") or "")) for q in failed] or [1.0])),
              ">=", 1.0)]
    return {c.id: c for c in claims}


