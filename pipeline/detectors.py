"""Unsupervised anomaly detectors with scikit-learn's outlier conventions.

Every detector:

- ``fit(X)`` on normal feature vectors ``X (n_vectors, dim)`` returns ``self``;
- standardises features with the learned ``mean_`` and ``scale_`` (shape (dim,));
- ``score_samples(X)`` per vector, *higher = more normal*;
- ``offset_``: the ``contamination`` quantile of the training scores;
  ``decision_function(X) = score_samples(X) - offset_`` (negative = outlier);
- ``predict(X)``: +1 inlier, -1 outlier;
- is reproducible: same data and ``random_state`` give the same model.

Clip scores aggregate vector scores (:func:`clip_scores`; the mean unless the
detector's ``aggregate`` says otherwise). TensorFlow is imported only inside
:class:`AutoencoderDetector`'s methods.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin

from errors import FaultsynthError
from provenance import jsonable

#: How vector scores become a clip score (see :func:`aggregate_scores`).
AGGREGATES = ("mean", "median", "min", "low_mean")

# Standard deviations below this are treated as constant features (scale 1).
_MIN_SCALE = 1e-8


def _as_matrix(X: Any, *, what: str = "X") -> np.ndarray:
    """X as a finite float64 (n, dim) array, or FaultsynthError."""
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FaultsynthError(f"{what} must be a numeric array of shape (n_vectors, dim): {exc}") from None
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise FaultsynthError(f"{what} must have shape (n_vectors, dim) with n_vectors, dim >= 1, got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise FaultsynthError(f"{what} contains NaN or infinite values")
    return X


def _check_aggregate(aggregate: str) -> None:
    if aggregate not in AGGREGATES:
        raise FaultsynthError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")


class _Detector(OutlierMixin, BaseEstimator):
    """Shared parts: standardisation, validation, threshold, predict."""

    #: Name used by make_detector / save_detector.
    name = ""

    def _check_common(self) -> None:
        if not (0.0 < float(self.contamination) < 0.5):
            raise FaultsynthError(f"contamination must be in (0, 0.5), got {self.contamination!r}")
        _check_aggregate(self.aggregate)

    def _fit_scaler(self, X: np.ndarray) -> np.ndarray:
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std > _MIN_SCALE, std, 1.0)
        self.n_features_in_ = X.shape[1]
        return (X - self.mean_) / self.scale_

    def _standardise(self, X: Any) -> np.ndarray:
        if not hasattr(self, "mean_"):
            raise FaultsynthError(f"{type(self).__name__} is not fitted: call fit(X) first")
        X = _as_matrix(X)
        if X.shape[1] != self.mean_.shape[0]:
            raise FaultsynthError(f"{type(self).__name__} was fitted on {self.mean_.shape[0]}-dimensional vectors, "
                                  f"got {X.shape[1]}-dimensional ones (different feature config?)")
        return (X - self.mean_) / self.scale_

    def _set_offset(self, X: np.ndarray) -> None:
        self.offset_ = float(np.quantile(self.score_samples(X), float(self.contamination)))

    def score_samples(self, X: Any) -> np.ndarray:
        """Per-vector normality score (higher = more normal).

        Parameters
        ----------
        X : array-like, shape (n_vectors, dim)

        Returns
        -------
        ndarray, shape (n_vectors,), float64
        """
        return self._score_standardised(self._standardise(X))

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers; shape (n_vectors,)."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for inliers, -1 for outliers (``decision_function < 0``); shape (n_vectors,), int."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def _score_standardised(self, Z: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # Persistence hooks: learned numpy attributes, and extra files.
    _array_attributes: tuple[str, ...] = ("mean_", "scale_")

    def _save_extra(self, directory: Path) -> None:
        pass

    def _load_extra(self, directory: Path) -> None:
        pass


class KMeansDetector(_Detector):
    """k-means on standardised vectors; score = minus distance to the nearest centroid.

    Parameters
    ----------
    n_clusters : int
        k.
    n_init : int
        k-means++ restarts (the best inertia is kept).
    contamination : float
        Training-score quantile used as ``offset_``.
    aggregate : str
        Default clip aggregation for :func:`clip_scores`.
    random_state : int
        Seeds k-means++.

    Attributes
    ----------
    mean_, scale_ : ndarray, shape (dim,)
        Standardisation ``z = (x - mean_) / scale_``.
    cluster_centers_ : ndarray, shape (n_clusters, dim)
        Centroids in standardised space.
    offset_ : float
    """

    name = "kmeans"
    _array_attributes = ("mean_", "scale_", "cluster_centers_")

    def __init__(self, *, n_clusters: int = 16, n_init: int = 3, contamination: float = 0.01,
                 aggregate: str = "mean", random_state: int = 0):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.contamination = contamination
        self.aggregate = aggregate
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> "KMeansDetector":
        """Fit on normal vectors X (n_vectors, dim); returns self."""
        from sklearn.cluster import KMeans

        self._check_common()
        X = _as_matrix(X)
        if not (isinstance(self.n_clusters, (int, np.integer)) and 1 <= self.n_clusters <= X.shape[0]):
            raise FaultsynthError(f"n_clusters must be an integer in [1, n_vectors={X.shape[0]}], "
                                  f"got {self.n_clusters!r}")
        Z = self._fit_scaler(X)
        km = KMeans(n_clusters=int(self.n_clusters), n_init=int(self.n_init), random_state=self.random_state)
        km.fit(Z)
        self.cluster_centers_ = km.cluster_centers_.astype(np.float64)
        self._set_offset(X)
        return self

    def _score_standardised(self, Z: np.ndarray) -> np.ndarray:
        c = self.cluster_centers_
        # |z - c|^2 = |z|^2 - 2 z.c + |c|^2, clipped at 0 against round-off.
        d2 = (Z * Z).sum(axis=1)[:, None] - 2.0 * Z @ c.T + (c * c).sum(axis=1)[None, :]
        return -np.sqrt(np.maximum(d2.min(axis=1), 0.0))


class GaussianDetector(_Detector):
    """Gaussian model of standardised vectors (Ledoit-Wolf shrunk covariance).

    Score = minus the Mahalanobis distance to the mean.

    Attributes
    ----------
    mean_, scale_ : ndarray, shape (dim,)
    location_ : ndarray, shape (dim,)
        Mean in standardised space (zeros up to round-off).
    precision_ : ndarray, shape (dim, dim)
        Inverse of the shrunk covariance in standardised space.
    shrinkage_ : float
    offset_ : float
    """

    name = "gaussian"
    _array_attributes = ("mean_", "scale_", "location_", "precision_", "shrinkage_")

    def __init__(self, *, contamination: float = 0.01, aggregate: str = "mean"):
        self.contamination = contamination
        self.aggregate = aggregate

    def fit(self, X: Any, y: Any = None) -> "GaussianDetector":
        """Fit on normal vectors X (n_vectors, dim); returns self."""
        from sklearn.covariance import LedoitWolf

        self._check_common()
        X = _as_matrix(X)
        if X.shape[0] < 2:
            raise FaultsynthError(f"GaussianDetector needs at least 2 vectors, got {X.shape[0]}")
        Z = self._fit_scaler(X)
        lw = LedoitWolf().fit(Z)
        self.location_ = lw.location_
        self.precision_ = lw.precision_
        self.shrinkage_ = np.float64(lw.shrinkage_)
        self._set_offset(X)
        return self

    def _score_standardised(self, Z: np.ndarray) -> np.ndarray:
        d = Z - self.location_
        return -np.sqrt(np.maximum(np.einsum("ij,ij->i", d @ self.precision_, d), 0.0))


class AutoencoderDetector(_Detector):
    """Dense autoencoder; score = minus the mean squared reconstruction error of a vector.

    The default is the DCASE 2020 Task 2 baseline: dim -> 128 x 4 -> 8 -> 128 x 4
    -> dim, each hidden layer Dense + BatchNormalization + ReLU, linear output,
    Adam, MSE. :meth:`tinyml` gives a small Dense+ReLU-only network that
    converts to an int8 TFLite model of FULLY_CONNECTED ops.

    Parameters
    ----------
    hidden_units : tuple of int
        Encoder layer widths (the decoder mirrors them).
    bottleneck : int
        Code width.
    batch_norm : bool
        BatchNormalization after each hidden Dense (before ReLU).
    epochs, batch_size : int
    learning_rate : float
        Adam.
    contamination : float
        Training-score quantile used as ``offset_``.
    aggregate : str
        Default clip aggregation for :func:`clip_scores`.
    random_state : int
        Seeds weight initialisation and shuffling (``keras.utils.set_random_seed``,
        which also seeds Python's and NumPy's global generators).
    verbose : int
        Keras fit verbosity.

    Attributes
    ----------
    mean_, scale_ : ndarray, shape (dim,)
        Standardisation applied before the network.
    model_ : keras.Model
        Standardised x (batch, dim) float32 -> reconstruction (batch, dim).
    loss_history_ : ndarray, shape (epochs,)
        Training loss per epoch.
    offset_ : float
    """

    name = "autoencoder"
    _array_attributes = ("mean_", "scale_", "loss_history_")

    def __init__(self, *, hidden_units: Sequence[int] = (128, 128, 128, 128), bottleneck: int = 8,
                 batch_norm: bool = True, epochs: int = 50, batch_size: int = 512, learning_rate: float = 1e-3,
                 contamination: float = 0.01, aggregate: str = "mean", random_state: int = 0, verbose: int = 0):
        self.hidden_units = hidden_units
        self.bottleneck = bottleneck
        self.batch_norm = batch_norm
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.contamination = contamination
        self.aggregate = aggregate
        self.random_state = random_state
        self.verbose = verbose

    @classmethod
    def tinyml(cls, **params: Any) -> "AutoencoderDetector":
        """A microcontroller-sized autoencoder: dim -> 32 -> 8 -> 32 -> dim, Dense + ReLU only.

        For 128-value features (``pipeline.features.TINYML``) that is about 9 k
        weights (9 KB int8). Keyword arguments override the defaults.
        """
        defaults = dict(hidden_units=(32,), bottleneck=8, batch_norm=False, epochs=30, batch_size=256)
        defaults.update(params)
        return cls(**defaults)

    def _check_params(self) -> None:
        self._check_common()
        units = tuple(self.hidden_units)
        if not all(isinstance(u, (int, np.integer)) and u >= 1 for u in units + (self.bottleneck,)):
            raise FaultsynthError(f"hidden_units and bottleneck must be positive integers, got "
                                  f"{self.hidden_units!r}, {self.bottleneck!r}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and value >= 1):
                raise FaultsynthError(f"{name} must be an integer >= 1, got {value!r}")
        if not (float(self.learning_rate) > 0):
            raise FaultsynthError(f"learning_rate must be > 0, got {self.learning_rate!r}")

    def _build(self, dim: int):
        keras = _keras()
        layers = keras.layers
        net = [keras.Input(shape=(dim,), name="x")]
        widths = list(self.hidden_units) + [self.bottleneck] + list(self.hidden_units)[::-1]
        for i, units in enumerate(widths):
            net.append(layers.Dense(int(units), activation=None if self.batch_norm else "relu", name=f"dense_{i}"))
            if self.batch_norm:
                net.append(layers.BatchNormalization(name=f"bn_{i}"))
                net.append(layers.Activation("relu", name=f"relu_{i}"))
        net.append(layers.Dense(dim, name="reconstruction"))
        return keras.Sequential(net, name="autoencoder")

    def fit(self, X: Any, y: Any = None) -> "AutoencoderDetector":
        """Train on normal vectors X (n_vectors, dim); returns self."""
        self._check_params()
        X = _as_matrix(X)
        Z = self._fit_scaler(X).astype(np.float32)
        keras = _keras()
        keras.utils.set_random_seed(int(self.random_state))
        model = self._build(X.shape[1])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=float(self.learning_rate)), loss="mse")
        history = model.fit(Z, Z, epochs=int(self.epochs), batch_size=int(self.batch_size), shuffle=True,
                            verbose=int(self.verbose))
        self.model_ = model
        self.loss_history_ = np.asarray(history.history["loss"], dtype=np.float64)
        if not np.all(np.isfinite(self.loss_history_)):
            raise FaultsynthError("autoencoder training diverged (non-finite loss); lower learning_rate")
        self._set_offset(X)
        return self

    def reconstruct(self, X: Any) -> np.ndarray:
        """Reconstruction of X in the original feature units; shape (n_vectors, dim)."""
        Z = self._standardise(X)
        return self._predict(Z) * self.scale_ + self.mean_

    def _predict(self, Z: np.ndarray) -> np.ndarray:
        # Direct eager calls in fixed-size batches: no predict() retracing per input size.
        Z32 = Z.astype(np.float32)
        out = [np.asarray(self.model_(Z32[i:i + 8192], training=False)) for i in range(0, len(Z32), 8192)]
        return np.concatenate(out).astype(np.float64)

    def _score_standardised(self, Z: np.ndarray) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise FaultsynthError("AutoencoderDetector is not fitted: call fit(X) first")
        return -np.mean((self._predict(Z) - Z) ** 2, axis=1)

    def _save_extra(self, directory: Path) -> None:
        self.model_.save(directory / "model.keras")

    def _load_extra(self, directory: Path) -> None:
        path = directory / "model.keras"
        if not path.is_file():
            raise FaultsynthError(f"{directory}: autoencoder model file model.keras is missing")
        self.model_ = _keras().models.load_model(path, compile=False)


def _keras():
    """Import Keras (TensorFlow backend) on first use, with at most 2 CPU threads."""
    from pipeline.tf_import import import_tensorflow

    tf = import_tensorflow()
    import keras

    try:
        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(2)
    except RuntimeError:
        pass  # TensorFlow already initialised its thread pools; keep them.
    return keras


#: Detector name -> class.
DETECTORS = {cls.name: cls for cls in (KMeansDetector, AutoencoderDetector, GaussianDetector)}


def make_detector(name: str, **params: Any) -> _Detector:
    """A detector by name with keyword parameters.

    Parameters
    ----------
    name : {"kmeans", "autoencoder", "gaussian"}
    **params
        Constructor keywords. For ``"autoencoder"``, ``tinyml=True`` starts from
        :meth:`AutoencoderDetector.tinyml` (other keywords override it).
    """
    if name not in DETECTORS:
        raise FaultsynthError(f"unknown detector {name!r}: expected one of {', '.join(DETECTORS)}")
    cls = DETECTORS[name]
    params = dict(params)
    tinyml = bool(params.pop("tinyml", False))
    if tinyml and cls is not AutoencoderDetector:
        raise FaultsynthError("tinyml=True applies to the autoencoder only")
    valid = set(cls().get_params())
    unknown = sorted(set(params) - valid)
    if unknown:
        raise FaultsynthError(f"unknown {name} parameters {unknown}; expected some of {sorted(valid)}")
    return cls.tinyml(**params) if tinyml else cls(**params)


def seeded_params(name: str, params: Mapping[str, Any], *, seed: int) -> dict:
    """``params`` with ``random_state = seed`` added where detector ``name`` has one (an explicit value wins)."""
    out = dict(params)
    if "random_state" in DETECTORS[name]().get_params():
        out.setdefault("random_state", int(seed))
    return out


def save_detector(detector: _Detector, directory: str | Path) -> Path:
    """Write a fitted detector to ``directory`` (created): detector.json, arrays.npz[, model.keras].

    Returns
    -------
    pathlib.Path
        The directory.
    """
    if not isinstance(detector, _Detector) or not hasattr(detector, "offset_"):
        raise FaultsynthError(f"save_detector needs a fitted faultsynth detector, got {type(detector).__name__}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    params = {k: jsonable(v) for k, v in detector.get_params().items()}
    meta = {"format": 1, "name": detector.name, "params": params, "offset_": float(detector.offset_),
            "n_features_in_": int(detector.n_features_in_)}
    np.savez(directory / "arrays.npz", **{k: np.asarray(getattr(detector, k)) for k in detector._array_attributes})
    detector._save_extra(directory)
    (directory / "detector.json").write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    return directory


def load_detector(directory: str | Path) -> _Detector:
    """Rebuild a detector written by :func:`save_detector` (identical scores)."""
    directory = Path(directory)
    meta_path = directory / "detector.json"
    if not meta_path.is_file():
        raise FaultsynthError(f"{directory}: not a saved detector (detector.json missing)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        params = dict(meta["params"])
        if "hidden_units" in params:
            params["hidden_units"] = tuple(params["hidden_units"])
        detector = make_detector(meta["name"], **params)
        with np.load(directory / "arrays.npz") as arrays:
            for key in detector._array_attributes:
                value = arrays[key]
                setattr(detector, key, value if value.ndim else value.item())
        detector.offset_ = float(meta["offset_"])
        detector.n_features_in_ = int(meta["n_features_in_"])
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        if isinstance(exc, FaultsynthError):
            raise
        raise FaultsynthError(f"{directory}: cannot read saved detector ({exc})") from None
    detector._load_extra(directory)
    return detector


def aggregate_scores(scores: np.ndarray, aggregate: str = "mean", *, fraction: float = 0.1) -> float:
    """One clip score from its vector scores (higher = more normal).

    Parameters
    ----------
    scores : ndarray, shape (n_vectors,)
    aggregate : {"mean", "median", "min", "low_mean"}
        ``min`` is the most anomalous vector; ``low_mean`` the mean of the
        lowest ``fraction`` of the vectors (at least one).
    """
    _check_aggregate(aggregate)
    if scores.size == 0:
        raise FaultsynthError("a clip has no feature vectors to score")
    if aggregate == "mean":
        return float(scores.mean())
    if aggregate == "median":
        return float(np.median(scores))
    if aggregate == "min":
        return float(scores.min())
    k = max(1, int(round(fraction * scores.size)))
    return float(np.partition(scores, k - 1)[:k].mean())


def clip_scores(detector: _Detector, clips: Sequence[np.ndarray], *, aggregate: str | None = None,
                fraction: float = 0.1) -> np.ndarray:
    """Score each clip: aggregate of its vectors' ``score_samples`` (higher = more normal).

    Parameters
    ----------
    detector : fitted detector
    clips : sequence of ndarray, each (n_vectors_i, dim)
    aggregate : str or None
        See :func:`aggregate_scores`; None uses ``detector.aggregate`` (default "mean").
    fraction : float
        For ``low_mean``.

    Returns
    -------
    ndarray, shape (n_clips,), float64
    """
    if aggregate is None:
        aggregate = getattr(detector, "aggregate", "mean")
    _check_aggregate(aggregate)
    clips = [_as_matrix(c, what=f"clip {i} features") for i, c in enumerate(clips)]
    if not clips:
        raise FaultsynthError("clip_scores needs at least one clip")
    lengths = [c.shape[0] for c in clips]
    vector_scores = detector.score_samples(np.concatenate(clips))  # one call: fast for the autoencoder
    bounds = np.cumsum([0] + lengths)
    return np.array([aggregate_scores(vector_scores[a:b], aggregate, fraction=fraction)
                     for a, b in zip(bounds[:-1], bounds[1:])])
