"""Disentanglement metrics of a representation of data with known factors: BetaVAE, FactorVAE, MIG, SAP, DCI.

Definitions and default sample counts follow google-research/disentanglement_lib (the values that
``latentnav evaluate-model`` uses; ``preset="fast"`` trades precision for time):

- **BetaVAE score** (Higgins et al. 2017): pick a factor k, draw two batches of 64 factor vectors that
  agree on k, take the mean |difference| of their codes; a logistic regression predicts k from it.
  Accuracy on 5,000 fresh points after 10,000 training points. Chance = 1 / number of factors.
- **FactorVAE score** (Kim & Mnih 2018): codes' variances over 10,000 samples; dimensions with std < 0.05
  are dropped; for each vote, fix factor k across 64 samples, the dimension with the smallest variance
  relative to its global one votes for k; a majority vote maps dimensions to factors. 10,000 / 5,000 votes.
- **MIG** (Chen et al. 2018): each code discretised into 20 equal-width bins; MIG = mean over factors
  of (largest - second largest mutual information with a code) / the factor's entropy. 10,000 points.
  With 20 bins even a perfect code stays below 1 on factors with many values (about 0.9 on dSprites).
- **SAP** (Kumar et al. 2018): a score matrix of codes x factors (the test accuracy of a 1-D
  ``LinearSVC(C=0.01, class_weight="balanced")``, or with ``continuous_factors`` the squared correlation);
  SAP = mean over factors of (top - second) score. 10,000 / 5,000 points. The classifier version stays
  near 0.18 even for a perfect dSprites code (one threshold cannot split 32 positions); report both.
- **DCI** (Eastwood & Williams 2018): a ``GradientBoostingClassifier`` (100 trees) per factor on
  10,000 points gives an importance matrix R (codes x factors); disentanglement = sum_i rho_i (1 - H_K(P_i.)),
  completeness = sum_k rho_k (1 - H_D(P_.k)) (entropies over factors / codes, importance-weighted);
  informativeness = the classifiers' accuracy on training and on 5,000 test points.

Data with known factors is a :class:`GroundTruthData`; a representation maps its observations to codes
[N, D]. :class:`IdentityData` (codes = the factors) gives the metrics' known answers;
:class:`DSpritesData` renders the dSprites grid with latentnav's renderer and :class:`ColourDSpritesData`
adds the colour factor, both at any resolution. For a model, :func:`testbed_data` picks the data it was
trained on and :func:`model_codes` its representation: a VAE's encoder mean (for the two-code VAE, z1 and
z2 together), an InfoGAN's Q read-out (class index of each categorical code, then the continuous means).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy.stats import entropy
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mutual_info_score
from sklearn.svm import LinearSVC

Representation = Callable[[Any], np.ndarray]


class GroundTruthData(Protocol):
    """Data with known discrete factors."""

    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """[n, K] integer factor classes, each uniform over its values."""
        ...

    def observations(self, factors: np.ndarray) -> Any:
        """What the representation reads, for factor classes [n, K]."""
        ...


class _Uniform:
    factor_sizes: tuple[int, ...]

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.stack([rng.integers(size, size=n) for size in self.factor_sizes], axis=1)


@dataclass(frozen=True)
class IdentityData(_Uniform):
    """Factors whose observation is the factor vector itself (disentanglement_lib's test data)."""

    factor_sizes: tuple[int, ...] = (10,) * 10

    @property
    def factor_names(self) -> tuple[str, ...]:
        return tuple(f"f{k}" for k in range(len(self.factor_sizes)))

    def observations(self, factors: np.ndarray) -> np.ndarray:
        return factors.astype(np.float64)


@dataclass(frozen=True)
class DSpritesData(_Uniform):
    """The dSprites grid (shape 3, scale 6, orientation 40, pos_x 32, pos_y 32) rendered by latentnav.

    Attributes:
        resolution: image side of the renders (64 as dSprites; 32 for the InfoGANs).
    """

    factor_names: tuple[str, ...] = ("shape", "scale", "orientation", "pos_x", "pos_y")
    factor_sizes: tuple[int, ...] = (3, 6, 40, 32, 32)
    resolution: int = 64

    def values(self, factors: np.ndarray) -> np.ndarray:
        """Factor values [n, 5] (latentnav's FACTORS order) for classes [n, 5]."""
        from latentnav.testbed.dsprites import DSPRITES_VALUES

        return np.stack([DSPRITES_VALUES[name][factors[:, k]] for k, name in enumerate(self.factor_names[:5])], axis=1)

    def observations(self, factors: np.ndarray):
        """Binary renders [n, 1, R, R] in [-1, 1] of factor classes [n, 5]."""
        import torch

        from latentnav.testbed.dsprites import render

        return render(torch.from_numpy(self.values(factors)).float(), self.resolution)


@dataclass(frozen=True)
class ColourDSpritesData(DSpritesData):
    """Colour dSprites (``data.dsprites.sample_coloured``): the dSprites grid plus ``colour``, one of six hues."""

    factor_names: tuple[str, ...] = ("shape", "scale", "orientation", "pos_x", "pos_y", "colour")
    factor_sizes: tuple[int, ...] = (3, 6, 40, 32, 32, 6)

    def observations(self, factors: np.ndarray):
        """RGB renders [n, 3, R, R] in [-1, 1] of factor classes [n, 6]: the sprite in its colour, on black."""
        import torch

        from latentnav.testbed.dsprites import colourize

        return colourize(super().observations(factors[:, :5]), torch.from_numpy(factors[:, 5]))


def represent(data: GroundTruthData, rep: Representation, factors: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Codes [n, D] of the observations of ``factors`` [n, K], computed ``chunk`` at a time (a :class:`CodeCache`
    renders and encodes each factor combination once)."""
    if isinstance(rep, CodeCache):
        return rep.lookup(factors)
    parts = [np.asarray(rep(data.observations(factors[i : i + chunk])), dtype=np.float64) for i in range(0, len(factors), chunk)]
    return np.concatenate(parts)


class CodeCache:
    """A representation that renders and encodes each factor combination at most once.

    The metrics draw millions of factor vectors (the BetaVAE score alone 1.92 million at disentanglement_lib's
    counts) from a grid of 737,280 combinations (dSprites), and a deterministic representation gives the
    same code for the same combination, so every code is read from a table filled on first use: the
    values are those of encoding every draw (up to the last bits of float32 arithmetic in batches of
    other sizes) at a fraction of the renders and encoder passes. Grids larger than ``max_entries`` are not
    tabulated (each call encodes its draws).

    Args:
        data: the data with known factors.
        rep: observations -> codes [n, D] (deterministic).
        chunk: combinations rendered and encoded at a time.
        max_entries: the largest grid that is tabulated.
        on_encode: called with the number of combinations each fill encodes (a progress bar's update).
    """

    def __init__(self, data: GroundTruthData, rep: Representation, *, chunk: int = 4096, max_entries: int = 8_000_000,
                 on_encode: Callable[[int], None] | None = None) -> None:  # fmt: skip
        self.data, self.rep, self.chunk, self.on_encode = data, rep, chunk, on_encode
        self.size = int(np.prod(data.factor_sizes, dtype=np.int64))
        self.tabulate = self.size <= max_entries
        self.table: np.ndarray | None = None  # [size, D] float64, NaN rows not yet encoded
        self.encoded = 0  # combinations rendered and encoded so far

    def __call__(self, observations) -> np.ndarray:
        return np.asarray(self.rep(observations), dtype=np.float64)

    def _encode(self, factors: np.ndarray) -> np.ndarray:
        parts = []
        for i in range(0, len(factors), self.chunk):
            parts.append(self(self.data.observations(factors[i : i + self.chunk])))
            self.encoded += len(parts[-1])
            if self.on_encode is not None:
                self.on_encode(len(parts[-1]))
        return np.concatenate(parts) if parts else np.zeros((0, 0))

    def lookup(self, factors: np.ndarray) -> np.ndarray:
        """Codes [n, D] of factor classes [n, K]: from the table, encoding the combinations not in it yet."""
        if not self.tabulate:
            return self._encode(factors)
        index = np.ravel_multi_index(tuple(factors.T), self.data.factor_sizes)
        missing = np.unique(index if self.table is None else index[np.isnan(self.table[index, 0])])
        if len(missing):
            codes = self._encode(np.stack(np.unravel_index(missing, self.data.factor_sizes), axis=1))
            if self.table is None:
                self.table = np.full((self.size, codes.shape[1]), np.nan)
            self.table[missing] = codes
        return self.table[index]


def _batches_sharing_a_factor(data, rng, n: int, batch: int, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two sets of n batches [n, batch, K]; batch i of both agrees on factor k[i] (BetaVAE score)."""
    K = len(data.factor_sizes)
    f1 = data.sample_factors(n * batch, rng).reshape(n, batch, K)
    f2 = data.sample_factors(n * batch, rng).reshape(n, batch, K)
    rows = np.arange(n)[:, None]
    cols = np.arange(batch)[None]
    f2[rows, cols, k[:, None]] = f1[rows, cols, k[:, None]]
    return f1, f2


def beta_vae_score(data: GroundTruthData, rep: Representation, rng: np.random.Generator, *, batch_size: int = 64,
                   num_train: int = 10_000, num_eval: int = 5_000) -> dict[str, float]:  # fmt: skip
    """BetaVAE score (see the module docstring): ``train_accuracy`` and ``eval_accuracy``."""
    K = len(data.factor_sizes)

    def points(n: int) -> tuple[np.ndarray, np.ndarray]:
        k = rng.integers(K, size=n)
        f1, f2 = _batches_sharing_a_factor(data, rng, n, batch_size, k)
        r1 = represent(data, rep, f1.reshape(n * batch_size, K)).reshape(n, batch_size, -1)
        r2 = represent(data, rep, f2.reshape(n * batch_size, K)).reshape(n, batch_size, -1)
        return np.abs(r1 - r2).mean(axis=1), k

    x_train, y_train = points(num_train)
    x_eval, y_eval = points(num_eval)
    model = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    return {"train_accuracy": float(model.score(x_train, y_train)), "eval_accuracy": float(model.score(x_eval, y_eval))}


def factor_vae_score(data: GroundTruthData, rep: Representation, rng: np.random.Generator, *, batch_size: int = 64,
                     num_train: int = 10_000, num_eval: int = 5_000, num_variance_estimate: int = 10_000,
                     prune_threshold: float = 0.05) -> dict[str, float]:  # fmt: skip
    """FactorVAE score (see the module docstring): ``train_accuracy``, ``eval_accuracy``, ``num_active_dims``."""
    K = len(data.factor_sizes)
    global_var = np.var(represent(data, rep, data.sample_factors(num_variance_estimate, rng)), axis=0, ddof=1)
    active = np.sqrt(global_var) >= prune_threshold
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}

    def votes(n: int) -> np.ndarray:
        k = rng.integers(K, size=n)
        f = data.sample_factors(n * batch_size, rng).reshape(n, batch_size, K)
        f[np.arange(n)[:, None], np.arange(batch_size)[None], k[:, None]] = f[np.arange(n), 0, k][:, None]
        r = represent(data, rep, f.reshape(n * batch_size, K)).reshape(n, batch_size, -1)
        local = np.var(r, axis=1, ddof=1)[:, active] / global_var[active]
        counts = np.zeros((K, int(active.sum())), dtype=np.int64)
        np.add.at(counts, (k, local.argmin(axis=1)), 1)
        return counts

    train, evaluation = votes(num_train), votes(num_eval)
    classifier = train.argmax(axis=0)  # code -> factor
    cols = np.arange(train.shape[1])
    return {"train_accuracy": float(train[classifier, cols].sum() / train.sum()),
            "eval_accuracy": float(evaluation[classifier, cols].sum() / evaluation.sum()),
            "num_active_dims": int(active.sum())}  # fmt: skip


def histogram_discretize(codes: np.ndarray, bins: int = 20) -> np.ndarray:
    """Each column of ``codes`` [N, D] into ``bins`` equal-width bins (disentanglement_lib's discretiser)."""
    out = np.zeros(codes.shape, dtype=np.int64)
    for i in range(codes.shape[1]):
        out[:, i] = np.digitize(codes[:, i], np.histogram(codes[:, i], bins)[1][:-1])
    return out


def mutual_info_matrix(codes_discrete: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Discrete mutual information [D, K] between every code and every factor, in nats."""
    return np.array([[mutual_info_score(factors[:, k], codes_discrete[:, i]) for k in range(factors.shape[1])]
                     for i in range(codes_discrete.shape[1])])  # fmt: skip


def mig(data: GroundTruthData, rep: Representation, rng: np.random.Generator, *, num_train: int = 10_000,
        bins: int = 20) -> dict[str, Any]:  # fmt: skip
    """Mutual information gap (see the module docstring): ``mig`` and ``per_factor``."""
    factors = data.sample_factors(num_train, rng)
    codes = represent(data, rep, factors)
    return mig_from_codes(codes, factors, bins, data.factor_names)


def mig_from_codes(codes: np.ndarray, factors: np.ndarray, bins: int = 20, names=None) -> dict[str, Any]:
    """MIG of given codes [N, D] and factor classes [N, K]."""
    m = mutual_info_matrix(histogram_discretize(codes, bins), factors)
    h = np.array([mutual_info_score(factors[:, k], factors[:, k]) for k in range(factors.shape[1])])
    top = np.sort(m, axis=0)[::-1]
    second = top[1] if len(top) > 1 else np.zeros_like(top[0])
    gap = (top[0] - second) / h
    names = names or [f"f{k}" for k in range(factors.shape[1])]
    return {"mig": float(gap.mean()), "per_factor": dict(zip(names, map(float, gap)))}


def sap(data: GroundTruthData, rep: Representation, rng: np.random.Generator, *, num_train: int = 10_000,
        num_test: int = 5_000, continuous_factors: bool = False) -> dict[str, float]:  # fmt: skip
    """SAP score (see the module docstring): ``sap``."""
    f_train = data.sample_factors(num_train, rng)
    r_train = represent(data, rep, f_train)
    f_test = data.sample_factors(num_test, rng)
    r_test = represent(data, rep, f_test)
    return {"sap": sap_from_codes(r_train, f_train, r_test, f_test, continuous_factors)}


def sap_from_codes(r_train, f_train, r_test, f_test, continuous_factors: bool = False) -> float:
    """SAP of given codes and factor classes."""
    D, K = r_train.shape[1], f_train.shape[1]
    score = np.zeros((D, K))
    for i in range(D):
        var = np.var(r_train[:, i])
        if var <= 1e-12:
            continue
        for k in range(K):
            if continuous_factors:
                cov = np.cov(r_train[:, i], f_train[:, k], ddof=1)
                score[i, k] = cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1]) if cov[1, 1] > 0 else 0.0
            else:
                svm = LinearSVC(C=0.01, class_weight="balanced").fit(r_train[:, i : i + 1], f_train[:, k])
                score[i, k] = float(np.mean(svm.predict(r_test[:, i : i + 1]) == f_test[:, k]))
    top = np.sort(score, axis=0)[::-1]
    second = top[1] if D > 1 else np.zeros(K)
    return float(np.mean(top[0] - second))


#: DCI's importance estimators: ``"gbt"`` disentanglement_lib's (the reference, the default), ``"forest"`` a random
#: forest (one of Eastwood & Williams's own two estimators), tens of times faster on 10,000 codes
DCI_ESTIMATORS = ("gbt", "forest")


def dci(data: GroundTruthData, rep: Representation, rng: np.random.Generator, *, num_train: int = 10_000,
        num_test: int = 5_000, n_estimators: int = 100, seed: int = 0, estimator: str = "gbt",
        n_jobs: int | None = None) -> dict[str, float]:  # fmt: skip
    """DCI (see the module docstring): ``disentanglement``, ``completeness``, ``informativeness_train/test``."""
    f_train = data.sample_factors(num_train, rng)
    r_train = represent(data, rep, f_train)
    f_test = data.sample_factors(num_test, rng)
    r_test = represent(data, rep, f_test)
    return dci_from_codes(r_train, f_train, r_test, f_test, n_estimators, seed, estimator=estimator, n_jobs=n_jobs)


def _dci_factor(r_train, y_train, r_test, y_test, n_estimators: int, seed: int, estimator: str):
    """One factor's classifier: (importance per code [D], train accuracy, test accuracy)."""
    if estimator == "gbt":
        model = GradientBoostingClassifier(n_estimators=n_estimators, random_state=seed)
    else:
        from sklearn.ensemble import RandomForestClassifier

        model = RandomForestClassifier(n_estimators=n_estimators, min_samples_leaf=5, random_state=seed)
    model.fit(r_train, y_train)
    return (np.abs(model.feature_importances_), float(np.mean(model.predict(r_train) == y_train)),
            float(np.mean(model.predict(r_test) == y_test)))  # fmt: skip


def dci_from_codes(r_train, f_train, r_test, f_test, n_estimators: int = 100, seed: int = 0, *, estimator: str = "gbt",
                   n_jobs: int | None = None) -> dict[str, float]:  # fmt: skip
    """DCI of given codes and factor classes.

    Args:
        estimator: one of :data:`DCI_ESTIMATORS`.
        n_jobs: processes the factors' classifiers are fitted in (default: one per CPU core, at most one per
            factor); the classifiers and so the values do not depend on it.
    """
    if estimator not in DCI_ESTIMATORS:
        from latentnav.errors import UnknownNameError

        raise UnknownNameError("DCI estimator", estimator, list(DCI_ESTIMATORS))
    import os

    from joblib import Parallel, delayed

    K = f_train.shape[1]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    small = len(r_train) * n_estimators < 20_000  # starting processes would cost more than it saves
    jobs = 1 if small else max(1, min(K, n_jobs or cores))
    order = sorted(range(K), key=lambda k: -len(np.unique(f_train[:, k])))  # the most classes (the longest fit) first
    done = Parallel(n_jobs=jobs)(delayed(_dci_factor)(r_train, f_train[:, k], r_test, f_test[:, k], n_estimators, seed,
                                                      estimator) for k in order)  # fmt: skip
    fits = [done[order.index(k)] for k in range(K)]
    importance = np.stack([f[0] for f in fits], axis=1)  # [D, K]
    return {"disentanglement": disentanglement_of(importance), "completeness": completeness_of(importance),
            "informativeness_train": float(np.mean([f[1] for f in fits])),
            "informativeness_test": float(np.mean([f[2] for f in fits]))}  # fmt: skip


def disentanglement_of(importance: np.ndarray) -> float:
    """DCI disentanglement of an importance matrix [D codes, K factors]."""
    per_code = 1.0 - entropy(importance.T + 1e-11, base=importance.shape[1])
    total = importance.sum()
    weight = importance.sum(axis=1) / total if total > 0 else np.ones(importance.shape[0]) / importance.shape[0]
    return float(np.sum(per_code * weight))


def completeness_of(importance: np.ndarray) -> float:
    """DCI completeness of an importance matrix [D codes, K factors]."""
    per_factor = 1.0 - entropy(importance + 1e-11, base=importance.shape[0])
    total = importance.sum()
    weight = importance.sum(axis=0) / total if total > 0 else np.ones(importance.shape[1]) / importance.shape[1]
    return float(np.sum(per_factor * weight))


# ---------------------------------------------------------------------------------------------- a model
#: sample counts: ``default`` = disentanglement_lib's; ``fast`` = 20x fewer BetaVAE and FactorVAE points (each costs 64
#: or 128 renders) and 5-10x fewer samples for the others, so that it takes under a minute on 2 CPU cores
PRESETS: dict[str, dict[str, dict[str, int]]] = {
    "default": {
        "beta_vae": {"num_train": 10_000, "num_eval": 5_000},
        "factor_vae": {"num_train": 10_000, "num_eval": 5_000, "num_variance_estimate": 10_000},
        "mig": {"num_train": 10_000},
        "sap": {"num_train": 10_000, "num_test": 5_000},
        "dci": {"num_train": 10_000, "num_test": 5_000},
        "tc": {"num_train": 10_000, "num_sampled": 5_000},
    },
    "fast": {
        "beta_vae": {"num_train": 500, "num_eval": 250},
        "factor_vae": {"num_train": 500, "num_eval": 250, "num_variance_estimate": 2_000},
        "mig": {"num_train": 2_000},
        "sap": {"num_train": 2_000, "num_test": 1_000},
        "dci": {"num_train": 1_000, "num_test": 500},
        "tc": {"num_train": 2_000, "num_sampled": 1_000},
    },
}


def preset_counts(preset: str | dict) -> dict[str, dict[str, int]]:
    """The sample counts of a preset name (see :data:`PRESETS`) or the dict itself."""
    if isinstance(preset, str):
        if preset not in PRESETS:
            from latentnav.errors import UnknownNameError

            raise UnknownNameError("preset", preset, list(PRESETS))
        return PRESETS[preset]
    return preset


def evaluate_representation(data: GroundTruthData, rep: Representation, *, preset: str | dict = "default", seed: int = 0,
                            posterior: Callable[[Any], tuple[np.ndarray, np.ndarray]] | None = None,
                            gaussian_columns: Sequence[int] | None = None,
                            progress: Callable[[str], None] | None = None, dci_estimator: str = "gbt",
                            n_jobs: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Every metric of the module for one representation, each from its own seeded stream.

    Args:
        data: the data with known factors.
        rep: observations -> codes [n, D] (deterministic: wrapped in a :class:`CodeCache`, so each factor
            combination is rendered and encoded once).
        preset: ``"default"`` (disentanglement_lib's counts), ``"fast"``, or a dict like :data:`PRESETS`'s.
        seed: seeds metric m's stream with ``(seed, m)``.
        posterior: optional observations -> (mu, logvar), for the sampled total correlation.
        gaussian_columns: the codes the Gaussian total correlation is computed on (default: all of them;
            an InfoGAN's categorical codes are not Gaussian).
        progress: called with ``"<metric> ..."`` before each metric and ``"<metric>: <seconds> s"`` after it.
        dci_estimator: DCI's importance estimator (:data:`DCI_ESTIMATORS`; ``"gbt"`` is the reference).
        n_jobs: processes for DCI's per-factor classifiers (default: the CPU cores).

    Returns:
        ``{"beta_vae": {...}, "factor_vae": {...}, "mig": {...}, "sap": {"sap", "sap_continuous"},
        "dci": {...}, "total_correlation": {"gaussian", "sampled"}, "counts": ..., "seconds": {metric: s},
        "encoded": combinations rendered and encoded}``.
    """
    import time

    counts = preset_counts(preset)
    codes = rep if isinstance(rep, CodeCache) else CodeCache(data, rep)
    say = progress or (lambda message: None)
    bar = None
    if progress is not None and codes.on_encode is None:  # a bar over the grid's combinations as they are encoded
        from tqdm.auto import tqdm

        bar = tqdm(total=codes.size if codes.tabulate else None, desc="rendering and encoding", unit="img", leave=False)
        codes.on_encode = bar.update
    steps = {
        "beta_vae": ("BetaVAE score", lambda r: beta_vae_score(data, codes, r, **counts["beta_vae"])),
        "factor_vae": ("FactorVAE score", lambda r: factor_vae_score(data, codes, r, **counts["factor_vae"])),
        "mig": ("MIG", lambda r: mig(data, codes, r, **counts["mig"])),
        "sap": ("SAP", lambda r: _sap_both(data, codes, r, **counts["sap"])),
        "dci": ("DCI", lambda r: dci(data, codes, r, **counts["dci"], estimator=dci_estimator, n_jobs=n_jobs)),
        "total_correlation": ("total correlation", lambda r: _total_correlation(
            data, codes, r, counts["tc"], posterior, gaussian_columns, seed)),
    }  # fmt: skip
    out: dict[str, Any] = {"counts": counts, "seconds": {}}
    for m, (key, (label, run)) in enumerate(steps.items()):
        say(f"{label} ...")
        t0 = time.perf_counter()
        out[key] = run(np.random.default_rng([seed, m]))
        out["seconds"][key] = time.perf_counter() - t0
        say(f"{label}: {out['seconds'][key]:.1f} s")
    if bar is not None:
        bar.close()
        codes.on_encode = None
    out["encoded"] = codes.encoded
    return out


def _sap_both(data, rep, rng, *, num_train: int, num_test: int) -> dict[str, float]:
    """SAP with the classifier score and with the R^2 score, on the same codes."""
    f_train, f_test = data.sample_factors(num_train, rng), data.sample_factors(num_test, rng)
    r_train, r_test = represent(data, rep, f_train), represent(data, rep, f_test)
    return {"sap": sap_from_codes(r_train, f_train, r_test, f_test, False),
            "sap_continuous": sap_from_codes(r_train, f_train, r_test, f_test, True)}  # fmt: skip


def _total_correlation(data, rep, rng, counts, posterior, gaussian_columns, seed: int) -> dict[str, float]:
    """Gaussian total correlation of the codes and, with a posterior, the sampled one."""
    from latentnav.metrics.information import gaussian_total_correlation, sampled_total_correlation

    codes = represent(data, rep, data.sample_factors(counts["num_train"], rng))
    tc = {"gaussian": gaussian_total_correlation(codes if gaussian_columns is None else codes[:, list(gaussian_columns)])}
    if posterior is not None:
        factors = data.sample_factors(counts["num_sampled"], rng)
        mus, logvars = zip(*(posterior(data.observations(factors[i : i + 4096])) for i in range(0, len(factors), 4096)))
        tc["sampled"] = sampled_total_correlation(np.concatenate(mus), np.concatenate(logvars), seed=seed)
    return tc


@dataclass(frozen=True)
class ModelCodes:
    """A model's representation for the metrics: how it reads codes from images.

    Attributes:
        read: images [n, C, R, R] in [-1, 1] -> codes [n, D] (numpy float).
        names: the D codes' names.
        gaussian_columns: the codes with a Gaussian prior (the Gaussian total correlation is computed on them).
        posterior: images -> (mean, log-variance), each [n, D], for the sampled total correlation (VAEs), or None.
    """

    read: Representation
    names: tuple[str, ...]
    gaussian_columns: tuple[int, ...]
    posterior: Callable[[Any], tuple[np.ndarray, np.ndarray]] | None = None


def model_codes(G, chunk: int | None = None) -> ModelCodes:
    """The representation of a model: an InfoGAN's Q read-out or a VAE's encoder mean.

    Args:
        G: a generator with ``code_readout`` (:class:`~latentnav.generators.base.SupportsCodeReadout`: one
            column per code, categorical codes as class indices) or ``encode``
            (:class:`~latentnav.generators.base.SupportsEncode`: all latents, for the two-code VAE z1 and z2).
        chunk: images per forward pass (default: 64 on a CPU, where small batches run the convolutions
            2-3x faster, else ``G.batch_size``).

    Raises:
        MethodNotApplicableError: ``G`` can read neither codes nor latents back from images.
    """
    import torch

    from latentnav.errors import MethodNotApplicableError
    from latentnav.generators.base import SupportsCodeReadout, SupportsEncode

    step = chunk or (64 if G.device.type == "cpu" else G.batch_size)

    def batched(fn) -> Representation:
        def read(images) -> np.ndarray:
            with torch.no_grad():
                return torch.cat([fn(images[i : i + step]) for i in range(0, len(images), step)]).cpu().numpy()

        return read

    if isinstance(G, SupportsCodeReadout):
        names = tuple(G.spec.names())
        return ModelCodes(batched(G.code_readout), names, tuple(range(len(G.spec.categorical), len(names))))
    if not isinstance(G, SupportsEncode):
        raise MethodNotApplicableError(f"evaluate-model needs a model that reads its codes back from images (an encoder "
                                       f"or an InfoGAN's Q); {G.name} has no encoder and no Q")  # fmt: skip
    posterior = None
    net = getattr(G, "net", None)
    if net is not None and hasattr(net, "encode"):  # latentnav's beta-VAEs: (mean, log-variance) of [0, 1] images

        def posterior(images):
            with torch.no_grad():
                parts = [net.encode((images[i : i + step].to(G.device) + 1) / 2) for i in range(0, len(images), step)]
            return (torch.cat([p[0] for p in parts]).cpu().numpy(), torch.cat([p[1] for p in parts]).cpu().numpy())

    return ModelCodes(batched(G.encode), tuple(f"z{k}" for k in range(G.z_dim)), tuple(range(G.z_dim)), posterior)


def testbed_data(G) -> DSpritesData:
    """The testbed a model makes, at its resolution: dSprites for one channel, colour dSprites for three.

    Raises:
        MethodNotApplicableError: images of another channel count, or smaller than 16 pixels.
    """
    from latentnav.errors import MethodNotApplicableError

    if G.img_channels not in (1, 3) or G.img_resolution < 16:
        raise MethodNotApplicableError(f"evaluate-model knows the factors of dSprites (1 channel) and colour dSprites "
                                       f"(3 channels); {G.name} makes {G.img_channels}x{G.img_resolution}x"
                                       f"{G.img_resolution} images")  # fmt: skip
    return (ColourDSpritesData if G.img_channels == 3 else DSpritesData)(resolution=G.img_resolution)


def evaluate_model(G, *, preset: str | dict = "default", seed: int = 0, progress: Callable[[str], None] | None = None,
                   dci_estimator: str = "gbt", n_jobs: int | None = None) -> dict[str, Any]:  # fmt: skip
    """The disentanglement metrics of a testbed model that reads codes back from images.

    The data is :func:`testbed_data` (renders at the model's resolution, with the true factors: dSprites,
    or colour dSprites with its colour factor), the codes :func:`model_codes` (a VAE's encoder means, an
    InfoGAN's Q read-out). ``dci_estimator`` and ``n_jobs``: see :func:`evaluate_representation`. Returns
    its dict plus ``data`` (the factors) and ``codes`` (the codes' names).

    Raises:
        MethodNotApplicableError: ``G`` has neither an encoder nor a Q, or its images are not a testbed's.
    """
    codes = model_codes(G)
    data = testbed_data(G)
    out = evaluate_representation(data, codes.read, preset=preset, seed=seed, posterior=codes.posterior,
                                  gaussian_columns=codes.gaussian_columns, progress=progress,
                                  dci_estimator=dci_estimator, n_jobs=n_jobs)  # fmt: skip
    return {**out, "data": {"factors": list(data.factor_names), "resolution": data.resolution}, "codes": list(codes.names)}


METRICS_HEADER = ("| model | BetaVAE | FactorVAE | MIG | SAP (classifier / R^2) | DCI disentanglement / completeness / "
                  "informativeness | total correlation (Gaussian / sampled, nats) |")  # fmt: skip


def metrics_markdown(results: dict[str, dict[str, Any]]) -> str:
    """A Markdown table (see :data:`METRICS_HEADER`) of :func:`evaluate_model` results by model name."""
    lines = [METRICS_HEADER, "|---" * (METRICS_HEADER.count("|") - 1) + "|"]
    for name, r in results.items():
        tc = r["total_correlation"]
        sampled = f"{tc['sampled']:.2f}" if "sampled" in tc else "-"
        d = r["dci"]
        lines.append(f"| `{name}` | {r['beta_vae']['eval_accuracy']:.3f} | {r['factor_vae']['eval_accuracy']:.3f} | "
                     f"{r['mig']['mig']:.3f} | {r['sap']['sap']:.3f} / {r['sap']['sap_continuous']:.3f} | "
                     f"{d['disentanglement']:.3f} / {d['completeness']:.3f} / {d['informativeness_test']:.3f} | "
                     f"{tc['gaussian']:.2f} / {sampled} |")  # fmt: skip
    return "\n".join(lines) + "\n"
