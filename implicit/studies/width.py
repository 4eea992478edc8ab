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

from ..kernels import lambda0
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
           "run_study", "load_study", "summary_table", "main"]

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
