"""Detection quality on real MIMII fan id_00 (../shared/data): AUC and pAUC per configuration.

Split (as the issue asks): train on normal clips 00000000-00000004, test on
normal 00000005-00000009 and all 10 abnormal clips (15 test clips: AUC moves
in steps of 1/50 = 0.02). Because a single 15-clip split is noisy, k-means and
Gaussian rows also give the mean (and min) AUC over ``--splits`` random 5/5
splits of the normal clips (abnormal clips always test); autoencoder rows use the first
``--ae-splits`` of them.

Usage: ``python bench/mimii_fan_quality.py [--splits 10] [--ae-epochs 50] [--ae-splits 3] [--quick]``
(``--quick`` skips the autoencoders). Prints a table; takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import features as F  # noqa: E402
from pipeline.detectors import clip_scores, make_detector  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mimii" / "fan" / "id_00"
FIXED_TRAIN = (0, 1, 2, 3, 4)


def load(label: str) -> list[np.ndarray]:
    """The 10 clips of one label, each (160000, 8) float64."""
    clips = []
    for i in range(10):
        y, sr = sf.read(DATA / label / f"{i:08d}.wav")
        assert sr == 16000 and y.shape[1] == 8
        clips.append(y)
    return clips


def evaluate(normal_feats, abnormal_feats, train_idx, detector, params, aggregate):
    """(AUC, pAUC) of one split: anomaly score = -clip score."""
    test_idx = [i for i in range(len(normal_feats)) if i not in train_idx]
    det = make_detector(detector, **params).fit(np.concatenate([normal_feats[i] for i in train_idx]))
    scores = -clip_scores(det, [normal_feats[i] for i in test_idx] + abnormal_feats, aggregate=aggregate)
    y = np.r_[np.zeros(len(test_idx)), np.ones(len(abnormal_feats))]
    return roc_auc_score(y, scores), roc_auc_score(y, scores, max_fpr=0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=10, help="random normal splits for k-means/Gaussian rows")
    parser.add_argument("--ae-epochs", type=int, default=50)
    parser.add_argument("--ae-splits", type=int, default=3, help="random splits for autoencoder rows (slow)")
    parser.add_argument("--quick", action="store_true", help="skip autoencoder rows")
    args = parser.parse_args()

    normal, abnormal = load("normal"), load("abnormal")
    rng = np.random.default_rng(2020)
    random_splits = [tuple(sorted(rng.choice(10, 5, replace=False).tolist())) for _ in range(args.splits)]

    base = F.DCASE_BASELINE
    low = F.FAN_LOWBAND
    tiny_low = replace(low, n_frames=4)
    ae = dict(epochs=args.ae_epochs)
    tiny = dict(tinyml=True)
    rows = [
        # label, features, detector, params, aggregate
        ("DCASE log-mel 128x5, ch 0 | baseline AE", base, "autoencoder", ae, "mean"),
        ("DCASE log-mel 128x5, ch 0 | k-means 16", base, "kmeans", {}, "mean"),
        ("DCASE log-mel 128x5, ch 0 | Gaussian", base, "gaussian", {}, "mean"),
        ("DCASE 128x5, ch 0 | k-means 16, min agg.", base, "kmeans", {}, "min"),
        ("DCASE 128x5, ch 0 | k-means 16, low 10%", base, "kmeans", {}, "low_mean"),
        ("DCASE 128x5, 8-ch mean | k-means 16", replace(base, channel="mean"), "kmeans", {}, "mean"),
        ("DCASE 128x5, 8-ch mean | Gaussian", replace(base, channel="mean"), "gaussian", {}, "mean"),
        ("log-mel 128x1, 8-ch mean | Gaussian", replace(base, channel="mean", n_frames=1), "gaussian", {}, "mean"),
        ("log-mel 64x1 n_fft 4096 | k-means 16", replace(base, n_fft=4096, hop_length=1024, n_mels=64, n_frames=1),
         "kmeans", {}, "mean"),
        ("TINYML 32x4 | TinyML AE", F.TINYML, "autoencoder", tiny, "mean"),
        ("TINYML 32x4 | k-means 16", F.TINYML, "kmeans", {}, "mean"),
        ("log-mel 8x1 full band, ch 0 | k-means 16", replace(base, n_mels=8, n_frames=1), "kmeans", {}, "mean"),
        ("log-mel 8x1 full band, ch 0 | Gaussian", replace(base, n_mels=8, n_frames=1), "gaussian", {}, "mean"),
        ("log-mel 32x1 0-1 kHz, ch 0 | k-means 16", replace(base, n_mels=32, fmax_hz=1000.0, n_frames=1),
         "kmeans", {}, "mean"),
        ("FAN_LOWBAND 16x1 0-500 Hz | k-means 16", low, "kmeans", {}, "mean"),
        ("FAN_LOWBAND 16x1 0-500 Hz | Gaussian", low, "gaussian", {}, "mean"),
        ("FAN_LOWBAND, 8-ch mean | k-means 16", replace(low, channel="mean"), "kmeans", {}, "mean"),
        ("FAN_LOWBAND, 8-ch mean | Gaussian", replace(low, channel="mean"), "gaussian", {}, "mean"),
        ("FAN_LOWBAND 16x5 | baseline AE", replace(low, n_frames=5), "autoencoder", ae, "mean"),
        ("FAN_LOWBAND 16x4 | TinyML AE", tiny_low, "autoencoder", tiny, "mean"),
        ("FAN_LOWBAND 16x4 | k-means 16", tiny_low, "kmeans", {}, "mean"),
    ]
    cache: dict = {}

    def feats(cfg):
        if cfg not in cache:
            cache[cfg] = ([F.extract(cfg, y) for y in normal], [F.extract(cfg, y) for y in abnormal])
        return cache[cfg]

    print(f"MIMII fan id_00: train normal {FIXED_TRAIN}, test 5 normal + 10 abnormal (AUC step 0.02); "
          f"'mean AUC' over {args.splits} random 5/5 normal splits ({args.ae_splits} for autoencoders)")
    header = f"{'configuration':48s} {'dim':>4s} {'AUC':>5s} {'pAUC':>5s} {'mean AUC':>8s} {'min AUC':>7s} {'s':>5s}"
    print(header)
    print("-" * len(header))
    for label, cfg, det, params, agg in rows:
        if args.quick and det == "autoencoder":
            continue
        t0 = time.perf_counter()
        nf, af = feats(cfg)
        auc, pauc = evaluate(nf, af, FIXED_TRAIN, det, params, agg)
        splits = random_splits[:args.ae_splits] if det == "autoencoder" else random_splits
        extra = f"{'':8s} {'':7s}"
        if splits:
            aucs = [evaluate(nf, af, s, det, params, agg)[0] for s in splits]
            extra = f"{np.mean(aucs):8.3f} {np.min(aucs):7.2f}"
        print(f"{label:48s} {cfg.dim:4d} {auc:5.2f} {pauc:5.2f} {extra} {time.perf_counter() - t0:5.0f}", flush=True)


if __name__ == "__main__":
    main()
