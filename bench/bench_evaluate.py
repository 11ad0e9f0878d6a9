"""Evaluation throughput: clips per second for each detector on a synthetic dataset.

Synthesises a fan dataset (16 kHz sound) into a temporary folder, trains each
detector on its normal training clips, then times

* ``end to end``: ``Bundle.score_clips`` (read WAV + features + detector) over the test clips;
* ``detector only``: ``Bundle.score_features`` on precomputed feature vectors.

Usage: python bench/bench_evaluate.py [--count 20] [--duration-s 2] [--features tinyml] [--epochs 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets.loaders import load_records  # noqa: E402
from datasets.synth import SynthConfig, synthesize  # noqa: E402
from pipeline.clip_features import clip_features  # noqa: E402
from pipeline.training import TrainConfig, train_bundle  # noqa: E402

DETECTORS = {"kmeans": {"n_clusters": 16}, "gaussian": {}, "autoencoder": {"tinyml": True}}


def best_of(function, repeats: int) -> float:
    """Shortest wall time (s) of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="clips per class")
    parser.add_argument("--duration-s", type=float, default=2.0)
    parser.add_argument("--features", default="tinyml")
    parser.add_argument("--epochs", type=int, default=5, help="autoencoder epochs")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "fan"
        config = SynthConfig(machine="fan", faults=("unbalance", "clogging"), severities=(0.5, 1.0),
                             count=args.count, duration_s=args.duration_s, seed=0)
        synthesize(config, data, workers=2, progress=False)
        records = load_records(data)
        test = [r for r in records if r.split == "test"]
        print(f"dataset: fan, {len(records)} clips of {args.duration_s:g} s at {records[0].sample_rate} Hz; "
              f"scoring {len(test)} test clips, features {args.features!r}, best of {args.repeats}")
        print(f"{'detector':<12} {'end to end (clips/s)':>22} {'detector only (clips/s)':>25} {'train (s)':>10}")
        for name, params in DETECTORS.items():
            if name == "autoencoder":
                params = dict(params, epochs=args.epochs)
            start = time.perf_counter()
            bundle = train_bundle(TrainConfig(detector=name, features=args.features, detector_params=params),
                                  records=records, out_dir=Path(tmp) / "models" / name)
            train_s = time.perf_counter() - start
            features = clip_features(test, bundle.feature_config)
            end_to_end = best_of(lambda: bundle.score_clips(test), args.repeats)
            detector_only = best_of(lambda: bundle.score_features(features), args.repeats)
            print(f"{name:<12} {len(test) / end_to_end:>22.1f} {len(test) / detector_only:>25.1f} {train_s:>10.2f}")


if __name__ == "__main__":
    main()
