"""The Dask backend: the local pool's bytes and tune results, resume after a killed client, a killed worker."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import sys

import pytest

distributed = pytest.importorskip("distributed")

from datasets.blend import InjectConfig, inject, mix_noise  # noqa: E402
from datasets.executor import check_scheduler, executor, processes_here, shard_size  # noqa: E402
from datasets.manifest import META_DIR  # noqa: E402
from datasets.synth import SynthConfig, synthesize  # noqa: E402
from errors import FaultsynthError  # noqa: E402
from tests.conftest import kill_synth_mid_run, run_cli  # noqa: E402
from tests.test_synth import tree_digest  # noqa: E402

CONFIG = SynthConfig(machine="bearing", faults=("outer_race", "imbalance"), severities=(0.5, 1.0), count=4,
                     duration_s=0.5, sample_rate=12000, seed=5, fixed={"rpm": 1797.0, "bearing": "6205"})


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes (a nanny restarts a killed one)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c:
        yield c


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """CONFIG written by the local backend."""
    root = tmp_path_factory.mktemp("local") / "ds"
    synthesize(CONFIG, root, progress=False)
    return tree_digest(root)


def test_synth_on_the_cluster_is_byte_identical_to_the_local_backend(tmp_path, cluster, reference):
    synthesize(CONFIG, tmp_path / "ds", progress=False, scheduler=cluster.scheduler_address)
    assert tree_digest(tmp_path / "ds") == reference


def test_synth_to_a_file_url_on_the_cluster_is_byte_identical(tmp_path, cluster, reference):
    records = synthesize(CONFIG, (tmp_path / "ds").as_uri(), progress=False, scheduler=cluster.scheduler_address)
    assert tree_digest(tmp_path / "ds") == reference and len(records) == len(reference) - 2


def test_inject_and_mix_on_the_cluster_are_byte_identical(tmp_path, cluster, shared_data):
    source = shared_data / "dcase2020" / "dev_data" / "unknown" / "train" / "normal_id_00_00000000.wav"
    config = InjectConfig(machine="fan", faults=("unbalance",), severities=(0.5, 1.0), count=2, duration_s=0.5,
                          seed=9)
    for scheduler in (None, cluster.scheduler_address):
        name = "dask" if scheduler else "local"
        inject(source, config, tmp_path / f"inject-{name}", scheduler=scheduler)
        mix_noise(tmp_path / f"inject-{name}", shared_data / "mimii", tmp_path / f"mix-{name}", snrs_db=(6, -6),
                  seed=2, scheduler=scheduler)
    for kind in ("inject", "mix"):
        local, dask = tree_digest(tmp_path / f"{kind}-local"), tree_digest(tmp_path / f"{kind}-dask")
        assert len(local) > 8 and local.keys() == dask.keys()
        # mix records where its input came from: the two inputs differ by folder name only
        differing = {k for k in local if local[k] != dask[k]}
        assert differing <= ({f"{META_DIR}/manifest.csv", f"{META_DIR}/dataset.json"} if kind == "mix" else set())


#: CONFIG on the command line.
CLI_ARGS = ["synth", "--machine", "bearing", "--faults", "outer_race,imbalance", "--severities", "0.5,1", "--count",
            "4", "--duration", "0.5", "--sample-rate", "12000", "--seed", "5", "--rpm", "1797", "--bearing", "6205",
            "--quiet"]


def test_cli_local_cluster_is_byte_identical(tmp_path, reference):
    done = run_cli(*CLI_ARGS, "--scheduler", "local:1", "--out", tmp_path / "ds")
    assert done.returncode == 0, done.stderr
    assert tree_digest(tmp_path / "ds") == reference


def test_killed_client_resumes_to_identical_files(tmp_path, cluster, reference):
    target = tmp_path / "ds"
    args = [*CLI_ARGS, "--scheduler", cluster.scheduler_address]
    kill_synth_mid_run(*args, out=target, clips=2, timeout=60)
    done = run_cli(*args, "--out", target)
    assert done.returncode == 0, done.stderr
    assert tree_digest(target) == reference
    assert not list(target.rglob("*.part"))


def _started_twice(dask_scheduler) -> int:
    """Tasks the scheduler sent to a worker more than once (a rerun after the worker died)."""
    starts: dict = {}
    for key, _, finish, *_ in dask_scheduler.transition_log:
        if finish == "processing":
            starts[key] = starts.get(key, 0) + 1
    return sum(n > 1 for n in starts.values())


def test_a_worker_killed_mid_run_is_retried(tmp_path, cluster, reference):
    with distributed.Client(cluster.scheduler_address) as client:
        client.wait_for_workers(2)
        pids = client.run(os.getpid)
        rerun_before = client.run_on_scheduler(_started_twice)
        killed = []

        def progress(done: int, total: int) -> None:
            if done >= 2 and not killed:
                busy = [w for w, keys in client.processing().items() if keys]  # a worker with a shard in hand
                if busy:
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed.append(pids[busy[0]])

        synthesize(CONFIG, tmp_path / "ds", progress=progress, scheduler=cluster.scheduler_address)
        assert killed, "no shard was in flight after the first clips; make the run longer"
        assert client.run_on_scheduler(_started_twice) > rerun_before  # the lost shard ran again
        client.wait_for_workers(2, timeout=30)
        assert killed[0] not in client.run(os.getpid).values()  # the nanny started a new worker
    assert tree_digest(tmp_path / "ds") == reference


def test_scheduler_is_checked_before_any_work(tmp_path):
    for bad in ("local:0", "local:x", "http://host:8786", "tcp://host", ""):
        with pytest.raises(FaultsynthError, match="local:N"):
            check_scheduler(bad)
    with pytest.raises(FaultsynthError, match="local:N"):
        synthesize(CONFIG, tmp_path / "ds", progress=False, scheduler="local")
    assert not (tmp_path / "ds").exists()
    result = run_cli("synth", "--machine", "fan", "--count", "1", "--duration", "0.1", "--scheduler",
                     "tcp://127.0.0.1:1", "--quiet", "--out", tmp_path / "ds")
    assert result.returncode != 0 and result.stderr.startswith("error:") and "Traceback" not in result.stderr
    assert "cannot connect" in result.stderr and not (tmp_path / "ds").exists()


def test_missing_dask_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    with pytest.raises(FaultsynthError, match=r"faultsynth\[dask\]"):
        with executor(1, "local:1"):
            pass
    with executor(2, None) as run:  # the local pool needs no Dask
        assert list(run(abs, [-1, -2, 3])) == [1, 2, 3]


def test_shard_sizes_and_the_processes_the_memory_check_counts():
    assert [shard_size(n, w) for n, w in ((1, 4), (24, 2), (1000, 2), (1000, 64))] == [1, 3, 8, 3]
    assert [processes_here(3, s) for s in (None, "local:2", "tcp://10.0.0.1:8786")] == [3, 2, 1]


def test_storage_per_clip_behind_the_million_clip_figure(tmp_path):
    """README (bench/bench_dask.py): a 10-s 16 kHz fan clip is 320 kB of WAV plus about 1.3 kB of manifest."""
    config = SynthConfig(machine="fan", faults=("unbalance", "clogging"), severities=(0.5,), count=1,
                         duration_s=10.0, sample_rate=16000, seed=0)
    records = synthesize(config, tmp_path / "ds", progress=False)
    sizes = {(tmp_path / "ds" / r.path).stat().st_size for r in records}
    assert sizes == {44 + 2 * 160_000}  # RIFF header + 16-bit samples
    manifest = (tmp_path / "ds" / META_DIR / "manifest.csv").stat().st_size
    assert 1200 < manifest / len(records) < 1450
    assert round(1e6 * (320_044 + manifest / len(records)) / 1e9) == 321  # GB per million clips


def test_experiment_data_stage_on_the_cluster(tmp_path, cluster, reference):
    from pipeline.experiment import ExperimentSpec, _make_data

    spec = ExperimentSpec(name="dask", detectors={"kmeans": {}}, **CONFIG.plan_fields())
    _make_data(spec, tmp_path / "data", workers=1, progress=False, scheduler=cluster.scheduler_address)
    assert tree_digest(tmp_path / "data") == reference


def _task_names(dask_scheduler) -> set:
    """Names (key prefixes) of the tasks the scheduler has seen."""
    return {str(key).rsplit("-", 1)[0] for key, *_ in dask_scheduler.transition_log}


def test_experiment_training_and_evaluation_on_the_cluster(tmp_path, cluster):
    from pipeline.experiment import ExperimentSpec, run_experiment

    spec = ExperimentSpec(name="dask", **{**CONFIG.plan_fields(), "severities": (0.5,)}, features="tinyml",
                          feature_overrides={"kind": "vibration", "n_mels": 16, "n_frames": 1,
                                             "envelope_fmax_hz": 600.0},
                          target_fpr=0.05, folds=2, detectors={"kmeans": {"n_clusters": 2}, "gaussian": {}})
    out = tmp_path / "exp"
    local = run_experiment(spec, out, workers=1, progress=False)
    (tmp_path / "local").mkdir()
    os.replace(out, tmp_path / "local" / "exp")  # the same path for both runs: files that name it compare
    dask = run_experiment(spec, out, progress=False, scheduler=cluster.scheduler_address)
    with distributed.Client(cluster.scheduler_address) as client:
        assert "_detector_job" in client.run_on_scheduler(_task_names)  # the detectors ran on the workers
    assert dask.reused == [] and set(dask.metrics) == {"kmeans", "gaussian"}
    assert dask.metrics == local.metrics
    assert [dask.metrics[d]["auc"] for d in spec.detectors] == [local.metrics[d]["auc"] for d in spec.detectors]
    timed = {"experiment.json", "report.md"}  # they hold the stages' wall times
    same = {k: v for k, v in tree_digest(out).items() if k not in timed}
    assert len(same) > 10 and same == {k: v for k, v in tree_digest(tmp_path / "local" / "exp").items()
                                       if k not in timed}
    for run in (local, dask):  # the same stages timed, in the same order
        assert list(run.timings_s) == ["data", "train kmeans", "evaluate kmeans", "train gaussian",
                                       "evaluate gaussian"]
    untimed = lambda path: re.sub(r"\| [0-9.]+ \|\n", "| - |\n", path.read_text())  # noqa: E731
    assert untimed(out / "report.md") == untimed(tmp_path / "local" / "exp" / "report.md")
    summaries = [json.loads((root / "experiment.json").read_text()) for root in (out, tmp_path / "local" / "exp")]
    for summary in summaries:
        summary["timings_s"] = sorted(summary["timings_s"])
    assert summaries[0] == summaries[1]


def test_tune_on_the_cluster_gives_the_local_results(tmp_path, cluster):
    from pipeline.tune import TuneConfig, run_tune
    from tests.test_tune import write_noise_recordings

    normals = write_noise_recordings(tmp_path / "normals", n=3, seconds=4.0)
    config = TuneConfig(machine="fan", faults=("unbalance",), severities=(0.1, 0.2), segment_s=1.0, folds=3,
                        detectors=("kmeans",), target_fpr=0.05)
    local = run_tune([normals], config, tmp_path / "local", workers=1, progress=False)
    dask = run_tune([normals], config, tmp_path / "dask", progress=False, scheduler=cluster.scheduler_address)
    assert len(local.ranking) > 1
    assert [(r.name, r.mean_auc) for r in dask.ranking] == [(r.name, r.mean_auc) for r in local.ranking]
    tables = []
    for name in ("local", "dask"):
        with open(tmp_path / name / "leaderboard.csv", newline="") as handle:
            tables.append([{k: v for k, v in row.items() if k != "fit_seconds"}  # wall time: differs per run
                           for row in csv.DictReader(handle)])
    assert tables[0] == tables[1]


def _malloc_trim_threshold():
    import os

    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")  # the module's cluster holds it
def test_local_cluster_workers_keep_the_adaptive_allocator():
    """Dask's nannies set MALLOC_TRIM_THRESHOLD_ (which turns glibc's adaptive mmap threshold off and makes every
    clip-sized array a fresh mapping); `local:N` workers start without it, also after another cluster of this
    process (the module's) put it into os.environ."""
    from datasets.executor import dask_client

    with dask_client("local:1") as client:
        assert client.submit(_malloc_trim_threshold, pure=False).result() is None
