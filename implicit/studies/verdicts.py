r"""Metrics that compare widths fairly in the paper's experiment (Figure 1), and the rules that turn them into
verdicts on the paper's findings.

Per run (:func:`run_metrics`), from a record of :mod:`implicit.studies.figure1`:

* the relative training and test losses :math:`L(K)/L(0)` at the last epoch :math:`K` (in :math:`\log_{10}`), which
  remove the seed-to-seed spread of the initial loss;
* the late linear rate (:func:`late_rate`): minus the slope of :math:`\ln L(k)` per epoch, fitted over the last
  window of the run and over the window before it; the run is in the asymptotic regime when the two agree within a
  tolerance. It is compared with :math:`-2\ln(1-\alpha\lambda_{\min}(H))`, the rate of the slowest eigendirection
  in the linear regime, where :math:`L(k+1)\approx(1-\alpha\lambda)^2 L(k)` along each eigendirection of :math:`H`;
* :math:`\lambda_{\min}(H(0))`, :math:`\lambda_{\min}(G(0))` and their ratios to :math:`\lambda_0`;
* :math:`\|(\gamma/\sqrt m)A(0)\|_2` and its largest relative drift over training.

Across widths (:func:`decide`): for each pair of consecutive widths, the differences of a metric between the wider
and the narrower net, seed by seed (a seed fixes the data draw, so the pair shares its data), their mean and
standard error. A finding is *reproduced* when the mean difference is favourable by more than ``k = 2`` standard
errors for every pair, *not reproduced* when it is unfavourable by more than ``k`` standard errors for some pair, and
*not decided at this scale* otherwise (including when fewer than two seeds are paired). :func:`figure1_verdicts`
applies these rules to the paper's three findings.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..measure import fit_rate
from ..tables import markdown_table

__all__ = ["REPRODUCED", "NOT_REPRODUCED", "NOT_DECIDED", "OUTCOMES", "FINDINGS", "group_runs", "describe",
           "relative_curve", "seed_band", "Rate", "late_rate", "RunMetrics", "run_metrics", "Pair",
           "paired_differences", "Verdict", "decide", "figure1_verdicts", "DATASET_NAMES", "summarize", "mean_se",
           "pm", "all_metrics", "all_verdicts", "runs_of", "pair_counts", "verdict_table",
           "pairs_table", "loss_table", "rate_table", "lambda_table", "opnorm_table"]

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_DECIDED = "not decided at this scale"
#: The three possible outcomes of a rule.
OUTCOMES = (REPRODUCED, NOT_REPRODUCED, NOT_DECIDED)
#: The paper's findings as :func:`figure1_verdicts` names them, and one observation the paper did not make.
FINDINGS = {
    "1": "larger m trains faster (relative training loss at the last epoch)",
    "1-rate": "larger m has a larger late linear rate",
    "2": "larger m reaches a lower test loss (relative test loss at the last epoch)",
    "3": "the scaled operator norm stays at its initial value (drift below 1%)",
    "3-width": "the scaled operator norm is slightly larger for larger m",
    "lambda": "lambda_min(H(0)) grows with m (not in the paper)",
}


# -- grouping --------------------------------------------------------------------------------------------------------

def group_runs(records: Iterable[dict]) -> dict[str, dict[str, dict[int, dict[int, dict]]]]:
    """Records of :func:`implicit.studies.figure1.load_results` as ``{profile: {data set: {width: {seed: record}}}}``,
    every level sorted. Two records of the same run are an error naming both files.

    Examples:
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import group_runs
        >>> runs = group_runs(figure1.load_results(results_dir("figure1")))
        >>> list(runs["cpu"]["mnist"]), list(runs["cpu"]["mnist"][500])  # widths, then seeds
        ([500, 1000, 2000], [0])
    """
    out: dict = {}
    for r in records:
        slot = out.setdefault(r["config"]["profile"], {}).setdefault(r["dataset"], {}).setdefault(r["width"], {})
        seed = int(r.get("seed", 0))
        if seed in slot:
            raise ValueError(f"two records of one run ({r['config']['profile']}, {r['dataset']}, m={r['width']}, "
                             f"seed {seed}): {slot[seed].get('path')} and {r.get('path')}")
        slot[seed] = r

    def sort(d: dict) -> dict:
        return {k: sort(v) if isinstance(v, dict) and "history" not in v else v for k, v in sorted(d.items())}

    return sort(out)


def describe(by_data: Mapping[str, Mapping[int, Mapping[int, dict]]], profile: str) -> str:
    """A one-line label of one profile's runs for figure titles and tables: profile, sizes, seeds, epochs, device.

    Examples:
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import describe, group_runs
        >>> runs = group_runs(figure1.load_results(results_dir("figure1")))
        >>> describe(runs["cpu"], "cpu")
        'profile cpu: n = 1000 (test 1000), m = 500-2000, 1 seed (0), 100 epochs, cpu'
    """
    runs = [r for by_width in by_data.values() for by_seed in by_width.values() for r in by_seed.values()]
    seeds = sorted({int(r.get("seed", 0)) for r in runs})
    widths = sorted({r["width"] for r in runs})
    n = sorted({r["data"]["n_train"] for r in runs})
    n_test = sorted({r["data"]["n_test"] for r in runs})
    epochs = sorted({r["config"]["epochs"] for r in runs})
    devices = sorted({r["provenance"]["device_type"] for r in runs})

    def span(values: Sequence[int]) -> str:
        return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"

    seed_text = f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} ({span(seeds)})"
    return (f"profile {profile}: n = {span(n)} (test {span(n_test)}), m = {span(widths)}, {seed_text}, "
            f"{span(epochs)} epochs, {', '.join(devices)}")


# -- curves ----------------------------------------------------------------------------------------------------------

def relative_curve(record: dict, column: str = "train_mse") -> tuple[np.ndarray, np.ndarray]:
    """The epochs where ``column`` was measured and its value there divided by the value at epoch 0.

    Examples:
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import relative_curve
        >>> record = figure1.load_results(results_dir("figure1"))[0]
        >>> epochs, rel = relative_curve(record, "test_mse")
        >>> float(epochs[0]), float(rel[0]), bool(rel[-1] < 1)
        (0.0, 1.0, True)
    """
    h = record["history"]
    values = h[column]
    ok = np.isfinite(values)
    return h["step"][ok], values[ok] / values[ok][0]


def seed_band(curves: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard error over seeds of curves ``(epochs, values)``, on the epochs all of them share.
    With one curve the standard error is zero.

    Examples:
        >>> import numpy as np
        >>> from implicit.studies.verdicts import seed_band
        >>> k = np.arange(3.0)
        >>> epochs, mean, se = seed_band([(k, np.array([1.0, 2, 3])), (k, np.array([3.0, 4, 5]))])
        >>> mean.tolist(), se.tolist()
        ([2.0, 3.0, 4.0], [1.0, 1.0, 1.0])
    """
    common = curves[0][0]
    for epochs, _ in curves[1:]:
        common = np.intersect1d(common, epochs)
    stack = np.array([values[np.isin(epochs, common)] for epochs, values in curves])
    se = stack.std(axis=0, ddof=1) / math.sqrt(len(stack)) if len(stack) > 1 else np.zeros(len(common))
    return common, stack.mean(axis=0), se


# -- per run ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rate:
    r"""The late linear rate of one run (per epoch; see :func:`late_rate`).

    ``rate`` and ``previous`` are minus the fitted slopes of :math:`\ln L(k)` over the last window and the window
    before; ``agreement`` is :math:`|\text{rate}-\text{previous}|/\text{rate}`; ``asymptotic`` whether it is at most
    the tolerance. ``theory`` is :math:`-2\ln(1-\alpha\bar\lambda)` with :math:`\bar\lambda` the mean of
    :math:`\lambda_{\min}(H(k))` measured in the last window, and ``ratio`` is ``rate / theory``.

    Examples:
        >>> from implicit.studies.verdicts import Rate
        >>> r = Rate(rate=2e-3, previous=2.1e-3, agreement=0.05, asymptotic=True, theory=1e-3, ratio=2.0)
        >>> r.asymptotic, r.ratio
        (True, 2.0)
    """

    rate: float
    previous: float
    agreement: float
    asymptotic: bool
    theory: float
    ratio: float


def late_rate(record: dict, *, windows: tuple[float, float, float] = (0.6, 0.8, 1.0), tol: float = 0.1) -> Rate:
    r"""Fit :math:`\ln L(k) \approx c - \text{rate}\cdot k` by least squares (:func:`implicit.measure.fit_rate`)
    over the epochs in :math:`[w_1K, w_2K]` and in :math:`[w_0K, w_1K]` (``windows`` :math:`=(w_0, w_1, w_2)`,
    :math:`K` the last epoch); the run is in the asymptotic regime when the two rates differ by at most ``tol``
    (relative). Under a pure power law :math:`L\propto k^{-p}` the default windows' rates differ by about 25 %
    whatever :math:`p`; under a pure exponential they agree.

    Examples:
        >>> import numpy as np
        >>> from implicit.train import History
        >>> from implicit.studies.verdicts import late_rate
        >>> k = np.arange(0, 1001, 10.0); alpha, lam = 0.01, 0.2
        >>> loss = 0.3 * (1 - alpha * lam) ** (2 * k) + 0.7 * (1 - alpha * 5 * lam) ** (2 * k)  # two modes
        >>> h = History(columns={"step": list(k), "loss": list(loss), "lambda_min_H": [lam] * len(k)})
        >>> r = late_rate({"history": h, "lr": alpha})
        >>> r.asymptotic, round(r.ratio, 3)  # the slow mode dominates: rate = -2 ln(1 - alpha lambda_min)
        (True, 1.0)
        >>> power = History(columns={"step": list(k[1:]), "loss": list(k[1:] ** -1.5), "lambda_min_H": [lam] * 100})
        >>> late_rate({"history": power, "lr": alpha}).asymptotic  # a power law is not
        False
    """
    h = record["history"]
    k, loss = h["step"], h["loss"]
    K = float(k[-1])
    ok = np.isfinite(loss) & (loss > 0)
    fits = []
    for lo, hi in ((windows[1], windows[2]), (windows[0], windows[1])):
        sel = ok & (k >= lo * K) & (k <= hi * K)
        fits.append(-math.log(fit_rate(loss[sel], k[sel])) if sel.sum() >= 3 else math.nan)
    rate, previous = fits
    agreement = abs(rate - previous) / abs(rate) if rate else math.nan
    lam = h["lambda_min_H"]
    measured = np.isfinite(lam)
    in_window = measured & (k >= windows[1] * K)
    lam_bar = float(np.mean(lam[in_window] if in_window.any() else lam[measured][-1:]))
    theory = -2 * math.log1p(-record["lr"] * lam_bar)
    return Rate(rate, previous, agreement, bool(agreement <= tol), theory, rate / theory)


@dataclass(frozen=True)
class RunMetrics:
    r"""The scalar metrics of one run (:func:`run_metrics`).

    ``train_rel``/``test_rel``: :math:`\log_{10}` of the relative training/test MSE at the last epoch;
    ``train_mse0``/``test_mse0``/``test_mse``: the initial MSEs and the final test MSE; ``rate``: the
    :class:`Rate`; ``lam_H0``/``lam_G0``: :math:`\lambda_{\min}(H(0))`, :math:`\lambda_{\min}(G(0))`;
    ``lambda0``: :math:`\lambda_0` of the training set (NaN for records that lack it); ``op0``/``op_drift``:
    :math:`\|(\gamma/\sqrt m)A(0)\|_2` and :math:`\max_k |q(k)-q(0)|/q(0)`; ``sharpness``: the largest
    :math:`\alpha\lambda_{\max}(H(k))` measured (1 at :math:`k=0` for :math:`\alpha = 1/\lambda_{\max}(H(0))`; gradient
    descent is stable along every direction of a fixed :math:`H` while it stays below 2); ``rises``: the number of
    stored epochs at which the training loss was higher than at the stored epoch before.

    Examples:
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import run_metrics
        >>> m = run_metrics(figure1.load_results(results_dir("figure1"))[0])
        >>> bool(m.train_rel < 0), bool(0.19 < m.op0 < 0.21), bool(m.op_drift < 0.01)
        (True, True, True)
    """

    train_rel: float
    test_rel: float
    train_mse0: float
    test_mse0: float
    test_mse: float
    rate: Rate
    lam_H0: float
    lam_G0: float
    lambda0: float
    op0: float
    op_drift: float
    sharpness: float
    rises: int


def run_metrics(record: dict, *, tol: float = 0.1) -> RunMetrics:
    """The :class:`RunMetrics` of one record (``tol``: the asymptotic-regime tolerance of :func:`late_rate`).

    Examples:
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import run_metrics
        >>> record = next(r for r in figure1.load_results(results_dir("figure1")) if r["config"]["profile"] == "cpu")
        >>> m = run_metrics(record)
        >>> record["width"], round(m.lam_H0, 4), bool(m.rate.ratio > 1)  # 100 epochs: far from the slowest mode
        (1000, 0.0238, True)
    """
    h = record["history"]
    _, train = relative_curve(record, "train_mse")
    _, test = relative_curve(record, "test_mse")
    q = h["contraction"]
    q = q[np.isfinite(q)]
    lam_h, lam_g = h["lambda_min_H"], h["lambda_min_G"]
    return RunMetrics(
        train_rel=float(np.log10(train[-1])), test_rel=float(np.log10(test[-1])),
        train_mse0=float(h["train_mse"][0]), test_mse0=float(h["test_mse"][0]),
        test_mse=float(h["test_mse"][np.isfinite(h["test_mse"])][-1]), rate=late_rate(record, tol=tol),
        lam_H0=float(lam_h[0]), lam_G0=float(lam_g[0]), lambda0=float(record.get("lambda0", math.nan)),
        op0=float(q[0]), op_drift=float(np.max(np.abs(q - q[0])) / q[0]),
        sharpness=float(record["lr"] * np.nanmax(h["lambda_max_H"])),
        rises=int(np.sum(np.diff(h["train_mse"][np.isfinite(h["train_mse"])]) > 0)))


# -- across widths ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pair:
    """Seed-paired differences ``metric(large) - metric(small)`` between two consecutive widths: their ``mean``,
    standard error ``se`` (NaN with fewer than two seeds) and the number of ``seeds``.

    Examples:
        >>> from implicit.studies.verdicts import Pair
        >>> p = Pair(small=100, large=200, mean=-0.5, se=0.25, seeds=5)
        >>> p.z
        -2.0
    """

    small: int
    large: int
    mean: float
    se: float
    seeds: int

    @property
    def z(self) -> float:
        """The mean difference in standard errors."""
        if math.isnan(self.se) or math.isnan(self.mean):
            return math.nan
        return self.mean / self.se if self.se > 0 else math.copysign(math.inf, self.mean) if self.mean else 0.0


def paired_differences(values: Mapping[int, Mapping[int, float]]) -> list[Pair]:
    """:class:`Pair` for each consecutive pair of widths of ``values[width][seed]``, over the seeds both have.

    Examples:
        >>> from implicit.studies.verdicts import paired_differences
        >>> values = {100: {0: 1.0, 1: 2.0, 2: 3.0}, 200: {0: 0.5, 1: 1.4, 2: 2.6}}
        >>> [(p.small, p.large, round(p.mean, 3), round(p.se, 3), p.seeds) for p in paired_differences(values)]
        [(100, 200, -0.5, 0.058, 3)]
    """
    widths = sorted(values)
    pairs = []
    for a, b in zip(widths, widths[1:], strict=False):
        seeds = sorted(set(values[a]) & set(values[b]))
        d = np.array([values[b][s] - values[a][s] for s in seeds], dtype=float)
        se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan
        pairs.append(Pair(a, b, float(d.mean()) if len(d) else math.nan, se, len(d)))
    return pairs


@dataclass(frozen=True)
class Verdict:
    """The outcome of one rule (one of :data:`OUTCOMES`), the pairs it was decided on, which direction is
    favourable (``better``: ``"lower"`` or ``"higher"``) and a short ``reason``. ``str(verdict)`` is the outcome.

    Examples:
        >>> from implicit.studies.verdicts import Verdict
        >>> str(Verdict("reproduced", (), "lower", "every pair favourable by more than 2 SE"))
        'reproduced'
    """

    outcome: str
    pairs: tuple[Pair, ...]
    better: str
    reason: str

    def __str__(self) -> str:
        return self.outcome


def decide(values: Mapping[int, Mapping[int, float]], better: str = "lower", k: float = 2.0) -> Verdict:
    """Apply the rule to ``values[width][seed]``: *reproduced* if every consecutive pair's mean difference is
    favourable (in the direction ``better``) by more than ``k`` standard errors, *not reproduced* if some pair's is
    unfavourable by more than ``k`` standard errors, else *not decided at this scale* (also when a pair has fewer
    than two seeds).

    Examples:
        >>> from implicit.studies.verdicts import decide
        >>> loss = {100: {0: 1.0, 1: 1.2, 2: 0.9}, 200: {0: 0.5, 1: 0.8, 2: 0.4}, 400: {0: 0.1, 1: 0.3, 2: 0.2}}
        >>> decide(loss, better="lower").outcome
        'reproduced'
        >>> decide(loss, better="higher").outcome
        'not reproduced'
        >>> decide({100: {0: 1.0, 1: 2.0}, 200: {0: 1.5, 1: 1.5}}).outcome  # differences +0.5 and -0.5
        'not decided at this scale'
    """
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    pairs = tuple(paired_differences(values))
    sign = -1.0 if better == "lower" else 1.0
    if not pairs or any(p.seeds < 2 for p in pairs):
        return Verdict(NOT_DECIDED, pairs, better, "needs at least two widths and two seeds per pair")
    gains = [sign * p.z for p in pairs]
    if all(g > k for g in gains):
        return Verdict(REPRODUCED, pairs, better, f"every pair favourable by more than {k:g} SE")
    if any(g < -k for g in gains):
        return Verdict(NOT_REPRODUCED, pairs, better, f"some pair unfavourable by more than {k:g} SE")
    return Verdict(NOT_DECIDED, pairs, better, f"some pair within {k:g} SE")


def figure1_verdicts(metrics: Mapping[int, Mapping[int, RunMetrics]], *, k: float = 2.0,
                     drift: float = 0.01) -> dict[str, Verdict]:
    """The verdicts of one data set's runs ``metrics[width][seed]`` on each finding of :data:`FINDINGS`.

    ``"1"``, ``"2"``: :func:`decide` on the relative training / test loss at the last epoch (lower is better).
    ``"1-rate"``: :func:`decide` on the late rate (higher is better), only if every run is in the asymptotic
    regime, else not decided. ``"3"``: reproduced if the operator norm drifts by less than ``drift`` (relative) in
    every run, else not reproduced. ``"3-width"`` and ``"lambda"``: :func:`decide` on
    :math:`\\|(\\gamma/\\sqrt m)A(0)\\|_2` and on :math:`\\lambda_{\\min}(H(0))` (higher is better).

    Examples:
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import all_metrics, figure1_verdicts, group_runs
        >>> metrics = all_metrics(group_runs(figure1.load_results(results_dir("figure1"))))
        >>> v = figure1_verdicts(metrics["cpu"]["mnist"])  # one seed
        >>> str(v["1"]), str(v["3"])
        ('not decided at this scale', 'reproduced')
    """
    def values(field: str) -> dict[int, dict[int, float]]:
        return {m: {s: getattr(x, field) for s, x in by_seed.items()} for m, by_seed in metrics.items()}

    runs = [x for by_seed in metrics.values() for x in by_seed.values()]
    out = {"1": decide(values("train_rel"), "lower", k), "2": decide(values("test_rel"), "lower", k)}
    in_regime = sum(x.rate.asymptotic for x in runs)
    rates = {m: {s: x.rate.rate for s, x in by_seed.items()} for m, by_seed in metrics.items()}
    if in_regime == len(runs):
        out["1-rate"] = decide(rates, "higher", k)
    else:
        out["1-rate"] = Verdict(NOT_DECIDED, tuple(paired_differences(rates)), "higher",
                                f"{in_regime} of {len(runs)} runs in the asymptotic regime")
    worst = max(x.op_drift for x in runs)
    out["3"] = Verdict(REPRODUCED if worst < drift else NOT_REPRODUCED, (), "lower",
                       f"largest relative drift {worst:.1e} against {drift:g}")
    out["3-width"] = decide(values("op0"), "higher", k)
    out["lambda"] = decide(values("lam_H0"), "higher", k)
    return out


#: How the data sets are named in prose.
DATASET_NAMES = {"mnist": "MNIST", "fashionmnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "svhn": "SVHN"}


def summarize(by_data: Mapping[str, Mapping[str, Verdict]], key: str) -> str:
    """One phrase for finding ``key`` across data sets (``by_data[data set][key]``, as :func:`figure1_verdicts`
    returns per data set): ``"<outcome> on every data set"`` when all agree, else each outcome with its data sets.

    Examples:
        >>> from implicit.studies.verdicts import Verdict, summarize
        >>> yes, no = Verdict("reproduced", (), "lower", ""), Verdict("not reproduced", (), "lower", "")
        >>> summarize({"mnist": {"1": yes}, "cifar10": {"1": yes}}, "1")
        'reproduced on every data set'
        >>> summarize({"mnist": {"1": yes}, "fashionmnist": {"1": no}, "cifar10": {"1": yes}}, "1")
        'reproduced on MNIST and CIFAR-10, not reproduced on Fashion-MNIST'
    """
    groups: dict[str, list[str]] = {}
    for name, verdicts in by_data.items():
        groups.setdefault(verdicts[key].outcome, []).append(DATASET_NAMES.get(name, name))
    if len(groups) == 1 and len(by_data) > 1:
        return f"{next(iter(groups))} on every data set"

    def join(names: list[str]) -> str:
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    return ", ".join(f"{outcome} on {join(names)}" for outcome, names in groups.items())


def mean_se(values: Iterable[float]) -> tuple[float, float]:
    """Mean and standard error (``std(ddof=1)/sqrt(n)``; 0 for one value) of ``values``.

    Examples:
        >>> from implicit.studies.verdicts import mean_se
        >>> mean_se([1.0, 2.0, 3.0])
        (2.0, 0.5773502691896258)
    """
    v = np.asarray(list(values), dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0


def pm(values: Iterable[float], fmt: str = ".3g") -> str:
    """``"mean ± se"`` of ``values`` for tables (just the mean for one value).

    Examples:
        >>> from implicit.studies.verdicts import pm
        >>> pm([1.0, 2.0, 3.0]), pm([0.5])
        ('2 ± 0.577', '0.5')
    """
    values = list(values)
    mean, se = mean_se(values)
    return format(mean, fmt) if len(values) == 1 else f"{mean:{fmt}} ± {se:{fmt}}"


# -- the chapter's tables and summaries ------------------------------------------------------------------------------

def all_metrics(runs: Mapping[str, Mapping[str, Mapping[int, Mapping[int, dict]]]], *,
                tol: float = 0.1) -> dict[str, dict[str, dict[int, dict[int, RunMetrics]]]]:
    """:func:`run_metrics` of every record of :func:`group_runs`, in the same nesting
    ``{profile: {data set: {width: {seed: RunMetrics}}}}``.

    Examples:
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import all_metrics, group_runs
        >>> metrics = all_metrics(group_runs(figure1.load_results(results_dir("figure1"))))
        >>> sorted(metrics), list(metrics["seeds"]["mnist"]), len(metrics["seeds"]["mnist"][100])
        (['cpu', 'fast', 'seeds'], [100, 200, 400], 5)
    """
    return {p: {d: {m: {s: run_metrics(r, tol=tol) for s, r in by_seed.items()} for m, by_seed in by_width.items()}
                for d, by_width in by_data.items()} for p, by_data in runs.items()}


def all_verdicts(metrics: Mapping[str, Mapping[str, Mapping[int, Mapping[int, RunMetrics]]]], *, k: float = 2.0,
                 drift: float = 0.01) -> dict[str, dict[str, dict[str, Verdict]]]:
    """:func:`figure1_verdicts` of every profile and data set: ``{profile: {data set: {finding: Verdict}}}``.

    Examples:
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import all_metrics, all_verdicts, group_runs
        >>> v = all_verdicts(all_metrics(group_runs(figure1.load_results(results_dir("figure1")))))
        >>> str(v["cpu"]["mnist"]["3"]), str(v["cpu"]["mnist"]["1"])  # one seed: the paired rules cannot decide
        ('reproduced', 'not decided at this scale')
    """
    return {p: {d: figure1_verdicts(by_width, k=k, drift=drift) for d, by_width in by_data.items()}
            for p, by_data in metrics.items()}


def runs_of(metrics: Mapping[str, Mapping[int, Mapping[int, RunMetrics]]], datasets: Iterable[str] | None = None,
            widths: Iterable[int] | None = None) -> list[RunMetrics]:
    """The :class:`RunMetrics` of one profile's runs ``metrics[data set][width][seed]`` as a flat list, optionally
    only those of some data sets and widths.

    Examples:
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import all_metrics, group_runs, runs_of
        >>> seeds = all_metrics(group_runs(figure1.load_results(results_dir("figure1"))))["seeds"]
        >>> len(runs_of(seeds)), len(runs_of(seeds, ["mnist"], [100, 200]))
        (45, 10)
    """
    datasets = None if datasets is None else set(datasets)
    widths = None if widths is None else set(widths)
    return [x for d, by_width in metrics.items() if datasets is None or d in datasets
            for m, by_seed in by_width.items() if widths is None or m in widths for x in by_seed.values()]


def pair_counts(by_data: Mapping[str, Mapping[str, Verdict]], key: str, k: float = 2.0) -> dict[str, int]:
    """For finding ``key`` over all data sets (``by_data[data set][key]``): how many width ``pairs`` were compared,
    how many are ``ahead`` (favourable mean difference), ``favourable`` by more than ``k`` standard errors, and
    ``unfavourable`` by more than ``k``; and on how many data sets the rule ``decided`` (reproduced or not).

    Examples:
        >>> from implicit.studies.verdicts import Pair, Verdict, pair_counts
        >>> pairs = (Pair(100, 200, -0.3, 0.1, 5), Pair(200, 400, 0.1, 0.1, 5))  # z = -3 and +1, lower is better
        >>> pair_counts({"mnist": {"1": Verdict("not decided at this scale", pairs, "lower", "")}}, "1")
        {'pairs': 2, 'ahead': 1, 'favourable': 1, 'unfavourable': 0, 'decided': 0}
    """
    gains = [(-1.0 if v[key].better == "lower" else 1.0) * p.z for v in by_data.values() for p in v[key].pairs]
    return {"pairs": len(gains), "ahead": sum(g > 0 for g in gains), "favourable": sum(g > k for g in gains),
            "unfavourable": sum(g < -k for g in gains),
            "decided": sum(v[key].outcome != NOT_DECIDED for v in by_data.values())}


def verdict_table(by_data: Mapping[str, Mapping[str, Verdict]], profile: str) -> str:
    """Markdown table: one row per finding of :data:`FINDINGS`, one column per data set, the outcomes.

    Examples:
        >>> from implicit.studies.verdicts import FINDINGS, Verdict, verdict_table
        >>> yes = Verdict("reproduced", (), "lower", "")
        >>> print(verdict_table({"mnist": {key: yes for key in FINDINGS}}, "seeds").splitlines()[2])
        | larger m trains faster (relative training loss at the last epoch) | reproduced |
    """
    rows = [[text] + [by_data[d][key].outcome for d in by_data] for key, text in FINDINGS.items()]
    return markdown_table([f"finding ({profile} profile)", *by_data], rows)


def pairs_table(by_data: Mapping[str, Mapping[str, Verdict]], keys: Sequence[str] = ("1", "1-rate", "2")) -> str:
    """Markdown table of the paired rules behind findings ``keys``: per data set, finding and pair of widths, the mean
    paired difference (wider minus narrower) ± one standard error, the mean in standard errors, and the outcome.

    Examples:
        >>> from implicit.studies.verdicts import Pair, Verdict, pairs_table
        >>> v = {"mnist": {"1": Verdict("reproduced", (Pair(100, 200, -0.5, 0.1, 5),), "lower", "")}}
        >>> print(pairs_table(v, keys=("1",)).splitlines()[-1])
        | mnist | 1 | 100 → 200 | -0.5 ± 0.1 | -5.0 | reproduced |
    """
    rows = [[d, key, f"{p.small} → {p.large}", f"{p.mean:+.3g} ± {p.se:.2g}", f"{p.z:+.1f}", v[key].outcome]
            for d, v in by_data.items() for key in keys for p in v[key].pairs]
    return markdown_table(["data set", "finding", "widths", "mean difference", "in SE", "verdict"], rows)


def _per_width(metrics: Mapping[str, Mapping[int, Mapping[int, RunMetrics]]], cells) -> list[list]:
    return [[d, m, *cells(list(by_seed.values()))] for d, by_width in metrics.items()
            for m, by_seed in by_width.items()]


def loss_table(metrics: Mapping[str, Mapping[int, Mapping[int, RunMetrics]]]) -> str:
    r"""Markdown table per data set and width (``metrics[data set][width][seed]``): the initial training MSE, the
    :math:`\log_{10}` of the relative training MSE at the last epoch, the same for the test MSE, and the final test
    MSE, each as mean ± standard error over seeds.

    Examples:
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import all_metrics, group_runs, loss_table
        >>> metrics = all_metrics(group_runs(figure1.load_results(results_dir("figure1"))))["cpu"]
        >>> print(loss_table(metrics).splitlines()[2])  # one seed: no standard errors
        | mnist | 500 | 1.37 | -1.20 | 1.36 | -1.10 | 0.107 |
    """
    def cells(x: list[RunMetrics]) -> list[str]:
        return [pm([v.train_mse0 for v in x]), pm([v.train_rel for v in x], ".2f"), pm([v.test_mse0 for v in x]),
                pm([v.test_rel for v in x], ".2f"), pm([v.test_mse for v in x])]

    return markdown_table(["data set", "m", "train MSE(0)", "log10 train MSE(K)/MSE(0)", "test MSE(0)",
                           "log10 test MSE(K)/MSE(0)", "test MSE(K)"], _per_width(metrics, cells))


def rate_table(metrics: Mapping[str, Mapping[int, Mapping[int, RunMetrics]]], tol: float = 0.1) -> str:
    r"""Markdown table of the late rates (:func:`late_rate`) per data set and width, mean ± standard error over
    seeds: the rate of the last window and :math:`\rho_{\min} = -2\ln(1-\alpha\lambda_{\min}(H))` (both
    :math:`\times10^4`), their ratio, how far the two windows differ (%), how many runs are within ``tol``, and the
    largest :math:`\alpha\lambda_{\max}(H(k))`.

    Examples:
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import all_metrics, group_runs, rate_table
        >>> metrics = all_metrics(group_runs(figure1.load_results(results_dir("figure1"))))["cpu"]
        >>> rate_table(metrics).splitlines()[0].split(" | ")[2]
        'late rate ×1e4'
    """
    def cells(x: list[RunMetrics]) -> list[str]:
        r = [v.rate for v in x]
        return [pm([1e4 * q.rate for q in r]), pm([1e4 * q.theory for q in r]), pm([q.ratio for q in r], ".2f"),
                pm([100 * q.agreement for q in r], ".0f"), f"{sum(q.asymptotic for q in r)} of {len(r)}",
                pm([v.sharpness for v in x], ".2f")]

    return markdown_table(["data set", "m", "late rate ×1e4", "ρ_min ×1e4", "rate / ρ_min", "windows differ by %",
                           f"within {tol:.0%}", "max αλ_max(H)"], _per_width(metrics, cells))


def lambda_table(metrics: Mapping[str, Mapping[int, Mapping[int, RunMetrics]]]) -> str:
    r"""Markdown table per data set and width: :math:`\lambda_0`, :math:`\lambda_{\min}(H(0))/\lambda_0` and
    :math:`\lambda_{\min}(G(0))/\lambda_0` (mean ± standard error over seeds; "0 (singular)" where some seed's
    :math:`G(0)` is singular to :math:`10^{-9}`).

    Examples:
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import all_metrics, group_runs, lambda_table
        >>> metrics = all_metrics(group_runs(figure1.load_results(results_dir("figure1"))))["seeds"]
        >>> print(lambda_table({"mnist": metrics["mnist"]}).splitlines()[2])  # m = 100 < n = 200: G(0) is singular
        | mnist | 100 | 0.00339 ± 7.98e-05 | 8.7 ± 0.473 | 0 (singular) |
    """
    def cells(x: list[RunMetrics]) -> list[str]:
        g = [v.lam_G0 / v.lambda0 for v in x]
        return [pm([v.lambda0 for v in x]), pm([v.lam_H0 / v.lambda0 for v in x]),
                pm(g) if min(g) > 1e-9 else "0 (singular)"]

    return markdown_table(["data set", "m", "λ0", "λ_min(H(0)) / λ0", "λ_min(G(0)) / λ0"], _per_width(metrics, cells))


def opnorm_table(metrics: Mapping[str, Mapping[str, Mapping[int, Mapping[int, RunMetrics]]]]) -> str:
    r"""Markdown table per profile and width (``metrics[profile][data set][width][seed]``): the range of
    :math:`q(0) = \|(\gamma/\sqrt m)A(0)\|_2` over seeds and data sets, and the largest relative drift of :math:`q(k)`.

    Examples:
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import all_metrics, group_runs, opnorm_table
        >>> metrics = all_metrics(group_runs(figure1.load_results(results_dir("figure1"))))
        >>> print(opnorm_table({"cpu": metrics["cpu"]}).splitlines()[2])
        | cpu | 500 | 0.1983–0.1983 | 9.5e-06 |
    """
    rows = []
    for profile, by_data in metrics.items():
        for m in sorted({m for by_width in by_data.values() for m in by_width}):
            x = [v for by_width in by_data.values() for v in by_width.get(m, {}).values()]
            rows.append([profile, m, f"{min(v.op0 for v in x):.4f}–{max(v.op0 for v in x):.4f}",
                         f"{max(v.op_drift for v in x):.1e}"])
    return markdown_table(["profile", "m", "q(0)", "largest drift"], rows)
