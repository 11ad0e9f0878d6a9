"""Train/test leakage: clip spans, overlap with training spans, exclusion in evaluation."""

from __future__ import annotations

import json

import pytest

from datasets.records import ClipRecord
from errors import FaultsynthError
from test_training import write_toy_dataset

REC = "/recordings/normal_0.wav"


def _clip(path: str, *, params: dict | None = None, split: str = "test", label: str = "normal",
          root: str = "/data", duration_s: float = 1.0) -> ClipRecord:
    return ClipRecord(path=path, split=split, machine="bearing", machine_id="id_00", label=label,
                      fault="none" if label == "normal" else "outer_race", severity=0.0 if label == "normal" else 0.5,
                      source="real", seed=None, sample_rate=16000, duration_s=duration_s, channels=1,
                      params=params or {}, root=root)


def _cut(path: str, start: float, end: float, source: str = REC, **kw) -> ClipRecord:
    return _clip(path, params={"source_path": source, "segment_start_s": start, "segment_end_s": end}, **kw)


# ---------------------------------------------------------------- clip_span / overlapping

def test_clip_span_of_cut_and_plain_clips(tmp_path):
    from pipeline.leakage import clip_span

    assert clip_span(_cut("a.wav", 1.0, 2.0)) == (REC, 1.0, 2.0)
    # The recording path is resolved, so two spellings of one file agree.
    assert clip_span(_cut("a.wav", 1.0, 2.0, source="/recordings/x/../normal_0.wav"))[0] == REC
    plain = _clip("sub/b.wav", root=str(tmp_path), duration_s=0.5)
    assert clip_span(plain) == (str((tmp_path / "sub" / "b.wav").resolve()), 0.0, 0.5)


@pytest.mark.parametrize("params", [
    {"source_path": REC, "segment_start_s": 1.0},                        # no end
    {"source_path": REC, "segment_start_s": "x", "segment_end_s": 2.0},  # not a number
    {"source_path": REC, "segment_start_s": 2.0, "segment_end_s": 1.0},  # end before start
])
def test_clip_span_refuses_malformed_segments(params):
    from pipeline.leakage import clip_span

    with pytest.raises(FaultsynthError, match="segment"):
        clip_span(_clip("a.wav", params=params))


def test_overlapping_by_file_and_time(tmp_path):
    from pipeline.leakage import overlapping

    spans = [(REC, 0.0, 1.0), (REC, 3.0, 4.0), ("/recordings/other.wav", 10.0, 20.0)]
    plain = _clip("p.wav", root=str(tmp_path), duration_s=0.5)
    records = [
        _cut("inside.wav", 0.25, 0.75),        # inside the first span
        _cut("straddle.wav", 0.5, 1.5),        # overlaps its end
        _cut("touch_end.wav", 1.0, 2.0),       # starts where a span ends: no shared audio
        _cut("touch_start.wav", 2.0, 3.0),     # ends where a span starts
        _cut("gap.wav", 1.5, 2.5),             # between the spans
        _cut("covers.wav", 2.5, 5.0),          # contains the second span
        _cut("other_file.wav", 0.25, 0.75, source="/recordings/normal_1.wav"),  # same times, other file
        plain,                                  # a whole file that is not a training recording
    ]
    assert overlapping(records, spans) == [True, True, False, False, False, True, False, False]
    # A plain clip spans its own file from 0 to its duration.
    assert overlapping([plain], [(str(plain.file.resolve()), 0.4, 9.0)]) == [True]
    assert overlapping([plain], [(str(plain.file.resolve()), 0.5, 9.0)]) == [False]
    assert overlapping(records, []) == [False] * len(records)


def test_overlapping_unsorted_long_span_found():
    """A long early span is found even when shorter spans start after it (running maximum of ends)."""
    from pipeline.leakage import overlapping

    spans = [(REC, 5.0, 5.5), (REC, 0.0, 10.0), (REC, 6.0, 6.5)]
    assert overlapping([_cut("a.wav", 8.0, 9.0), _cut("b.wav", 10.0, 11.0)], spans) == [True, False]


def test_overlapping_refuses_malformed_spans():
    from pipeline.leakage import overlapping

    with pytest.raises(FaultsynthError, match="source_file, start_s, end_s"):
        overlapping([_cut("a.wav", 0.0, 1.0)], [(REC, 0.0)])


# ---------------------------------------------------------------- selection

def test_select_evaluation_counts_each_reason(tmp_path):
    from pipeline.evaluate import select_evaluation

    root = str(tmp_path)
    train = _cut("train_0.wav", 0.0, 1.0, split="train", root=root)
    test = [_cut("t0.wav", 0.5, 1.5, root=root),                      # overlaps the training segment
            _cut("t1.wav", 1.0, 2.0, root=root),                      # touches it: kept
            _cut("t2.wav", 0.0, 1.0, root=root, label="anomaly"),     # same segment, fault injected
            _cut("t3.wav", 5.0, 6.0, root=root, label="anomaly"),
            _clip("t4.wav", root=root)]                               # a training file listed in the test split
    train_files = {str(test[4].file.resolve())}
    spans = [(REC, 0.0, 1.0)]
    sel = select_evaluation([train, *test], train_files=train_files, train_spans=spans)
    assert [r.path for r in sel.records] == ["t1.wav", "t3.wav"]
    assert (sel.excluded_training, sel.excluded_overlapping, sel.leaky_included) == (1, 2, 0)
    assert sel.leaky == ("t0.wav", "t2.wav") and sel.excluded == 3
    kept = select_evaluation([train, *test], train_files=train_files, train_spans=spans, include_leaky=True)
    assert [r.path for r in kept.records] == ["t0.wav", "t1.wav", "t2.wav", "t3.wav"]
    assert (kept.excluded_training, kept.excluded_overlapping, kept.leaky_included) == (1, 0, 2)
    # Without spans only training files are left out.
    plain = select_evaluation([train, *test], train_files=train_files)
    assert len(plain.records) == 4 and plain.excluded == 1


# ---------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def cut_dataset(tmp_path_factory):
    """A toy dataset whose clips claim to be cut from recordings, and a k-means bundle recording its spans.

    Training clips i = 0..9 are the segments [0.5 i, 0.5 (i + 1)] s of one recording; two test clips
    overlap them (one normal, one anomaly), one touches their end, the rest lie elsewhere.
    """
    from datasets.manifest import write_manifest
    from pipeline.leakage import clip_span
    from pipeline.training import TrainConfig, load_bundle, train

    root = tmp_path_factory.mktemp("cut_data")
    records = write_toy_dataset(root, n_train=10, n_normal_test=8, n_per_level=6,
                                levels={"whine": {1.0: 0.2}}, seed=3)
    rec, other = str(root / "recording_a.wav"), str(root / "recording_b.wav")
    cut, n_test = [], 0
    for r in records:
        if r.split == "train":
            i = int(r.path.rsplit("_", 1)[1].split(".")[0])
            start, source = 0.5 * i, rec
        else:
            # Test clip 0 (normal) overlaps [4.5, 5.0], clip 1 touches its end, clip 8 (an anomaly) overlaps
            # [0, 0.5]; clip 9 has the same times as clip 8 in another recording; the rest lie after 10 s.
            start = {0: 4.75, 1: 5.0, 8: 0.25, 9: 0.25}.get(n_test, 10.0 + 0.5 * n_test)
            source = other if n_test == 9 else rec
            n_test += 1
        cut.append(r.replace(params={**r.params, "source_path": source, "segment_start_s": start,
                                     "segment_end_s": start + 0.5}))
    write_manifest(root, cut)
    model = tmp_path_factory.mktemp("cut_model") / "kmeans"
    train(TrainConfig(detector="kmeans", features="tinyml", seed=0, detector_params={"n_clusters": 4}),
          data=root, out_dir=model)
    # Record the training spans as training.py does (train_summary.spans; not part of the fingerprint).
    train_files = load_bundle(model).train_files
    meta = json.loads((model / "bundle.json").read_text())
    meta["train_summary"]["spans"] = [list(clip_span(r)) for r in cut if str(r.file.resolve()) in train_files]
    (model / "bundle.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    overlapping_paths = {r.path for r in cut if r.split == "test" and r.params["source_path"] == rec
                         and r.params["segment_start_s"] < 5.0}
    return root, model, overlapping_paths


def test_evaluate_excludes_clips_overlapping_training_spans(cut_dataset, tmp_path):
    from pipeline.evaluate import evaluate

    root, model, leaky = cut_dataset
    assert len(leaky) == 2
    metrics = evaluate(model_dir=model, data=root, out_dir=tmp_path / "r").metrics
    assert metrics["excluded_overlapping_clips"] == 2 and "leaky_clips_included" not in metrics
    assert metrics["clips"] == 8 + 6 - 2
    scored = {line.split(",")[0] for line in (tmp_path / "r" / "scores.csv").read_text().splitlines()[1:]}
    assert not scored & leaky and len(scored) == 12
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["excluded_overlapping_clips"] == 2
    report = (tmp_path / "r" / "report.md").read_text()
    assert ("2 test clips were cut from the recordings the model trained on (overlapping segments) and were "
            "excluded") in report


def test_evaluate_include_leaky_keeps_and_flags(cut_dataset, tmp_path, cli):
    root, model, leaky = cut_dataset
    result = cli("evaluate", "--model", model, "--data", root, "--out", tmp_path / "r", "--include-leaky",
                 "--quiet")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["leaky_clips_included"] == 2 and set(metrics["leaky_clips"]) == leaky
    assert "excluded_overlapping_clips" not in metrics and metrics["clips"] == 14
    assert "overlap the training recordings" in result.stdout
    assert "were kept" in (tmp_path / "r" / "report.md").read_text()
