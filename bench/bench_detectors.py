"""Detector training time and scoring throughput on 100 000 synthetic feature vectors.

Features: a mixture of 16 Gaussian blobs on a 10-dimensional subspace plus
isotropic noise (so k-means and the autoencoders have structure to find), of
dimension 640 (DCASE layout) or 128 (TINYML layout), float32. Each detector is
trained once (its own threads: k-means via OpenMP/BLAS, Keras with 2 threads);
scoring is timed on all 100 000 vectors.

Usage: ``python bench/bench_detectors.py [--n 100000] [--ae-epochs 3] [--tiny-epochs 10]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.detectors import make_detector  # noqa: E402


def features(n: int, dim: int, seed: int) -> np.ndarray:
    """(n, dim) float32 vectors with cluster structure."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((10, dim))
    centres = 3.0 * rng.standard_normal((16, 10))
    z = centres[rng.integers(0, 16, n)] + rng.standard_normal((n, 10))
    return (z @ basis + 0.5 * rng.standard_normal((n, dim))).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--ae-epochs", type=int, default=3, help="epochs of the DCASE baseline autoencoder")
    parser.add_argument("--tiny-epochs", type=int, default=10, help="epochs of the TinyML autoencoder")
    args = parser.parse_args()

    X640, X128 = features(args.n, 640, 0), features(args.n, 128, 1)
    runs = [
        ("k-means 16 (n_init 3)", "kmeans", {}, X640),
        ("k-means 16 (n_init 3)", "kmeans", {}, X128),
        ("Gaussian (Ledoit-Wolf)", "gaussian", {}, X640),
        ("Gaussian (Ledoit-Wolf)", "gaussian", {}, X128),
        (f"TinyML AE 128-32-8-32-128, {args.tiny_epochs} ep", "autoencoder",
         dict(tinyml=True, epochs=args.tiny_epochs), X128),
        (f"DCASE AE 640-128x4-8-128x4-640, {args.ae_epochs} ep", "autoencoder",
         dict(epochs=args.ae_epochs, batch_size=512), X640),
    ]
    print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(other work on the machine slows every figure)")
    print(f"{args.n} training vectors; scoring the same {args.n} vectors")
    print(f"{'detector':40s} {'dim':>4s} {'fit s':>7s} {'s/epoch':>7s} {'score s':>7s} {'vectors/s':>10s}")
    for label, name, params, X in runs:
        det = make_detector(name, **params)
        t0 = time.perf_counter()
        det.fit(X)
        fit_s = time.perf_counter() - t0
        det.score_samples(X[:1000])  # warm-up (graph tracing for Keras)
        t0 = time.perf_counter()
        det.score_samples(X)
        score_s = time.perf_counter() - t0
        per_epoch = f"{fit_s / det.epochs:7.2f}" if name == "autoencoder" else f"{'':7s}"
        print(f"{label:40s} {X.shape[1]:4d} {fit_s:7.1f} {per_epoch} {score_s:7.2f} {len(X) / score_s:10.0f}",
              flush=True)


if __name__ == "__main__":
    main()
