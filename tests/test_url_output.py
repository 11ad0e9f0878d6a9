"""`synth`, `inject` and `mix` to an fsspec URL: the bytes of a local folder, the manifest last, resume or
clean-up after a cut, clear refusals."""

from __future__ import annotations

import hashlib

import fsspec
import pytest

from datasets.manifest import META_DIR
from datasets.synth import JOURNAL_CHUNKS, SynthConfig, synthesize
from errors import FaultsynthError
from tests.conftest import PROJECT, run_cli
from tests.test_synth import tree_digest

#: Float WAV (vibration) clips.
BEARING = SynthConfig(machine="bearing", faults=("outer_race", "imbalance"), severities=(0.5, 1.0), count=2,
                      duration_s=0.5, sample_rate=12000, seed=7, fixed={"rpm": 1797.0, "bearing": "6205"})
#: 16-bit PCM (sound) clips and a time-localised fault: events.csv too.
VALVE = SynthConfig(machine="valve", faults=("contamination",), severities=(1.0,), count=2, duration_s=1.0,
                    sample_rate=16000, seed=3)


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """BEARING and VALVE written to local folders: {name: tree digest}."""
    root = tmp_path_factory.mktemp("local")
    digests = {}
    for name, config in (("bearing", BEARING), ("valve", VALVE)):
        synthesize(config, root / name, progress=False)
        digests[name] = tree_digest(root / name)
    return digests


@pytest.fixture
def memory():
    """The process's memory file system, emptied after the test."""
    fs = fsspec.filesystem("memory")
    yield fs
    if fs.find("/"):
        fs.rm("/", recursive=True)


def memory_digest(fs, root: str) -> dict[str, str]:
    """sha256 of every file under ``root`` of ``fs``, by relative path (as tree_digest)."""
    return {p[len(root) + 1:]: hashlib.sha256(fs.cat_file(p)).hexdigest() for p in sorted(fs.find(root))}


@pytest.mark.parametrize("workers", [1, 2])
def test_file_url_gives_the_bytes_of_a_local_path(tmp_path, references, workers):
    for name, config in (("bearing", BEARING), ("valve", VALVE)):
        records = synthesize(config, (tmp_path / name).as_uri(), progress=False, workers=workers)
        assert tree_digest(tmp_path / name) == references[name]  # clips, manifest, dataset.json, events
        assert {r.path for r in records} == {k for k in references[name] if not k.startswith(META_DIR)}
    assert f"{META_DIR}/events.csv" in references["valve"]


def test_memory_url_on_the_local_backend(memory, references):
    synthesize(BEARING, "memory://ds", progress=False)
    assert memory_digest(memory, "/ds") == references["bearing"]
    synthesize(BEARING, "memory://ds", progress=False)  # a finished dataset: resumed with nothing to do
    assert memory_digest(memory, "/ds") == references["bearing"]
    with pytest.raises(FaultsynthError, match="another configuration"):
        synthesize(VALVE, "memory://ds", progress=False)
    for kwargs in ({"workers": 2}, {"scheduler": "local:1"}):  # other processes cannot see memory://
        with pytest.raises(FaultsynthError, match="this process only"):
            synthesize(BEARING, "memory://other", progress=False, **kwargs)
    assert not memory.exists("/other")


class Stop(Exception):
    """Raised from the progress callback: the run is interrupted."""


def test_interrupted_url_run_resumes_to_the_same_bytes(memory, references):
    seen = []

    def progress(done: int, total: int) -> None:
        seen.append(memory.exists(f"/ds/{META_DIR}/manifest.csv"))
        if done == 4:
            raise Stop

    with pytest.raises(Stop):
        synthesize(BEARING, "memory://ds", progress=progress)
    assert seen == [False] * 4  # the manifest comes last
    chunks = memory.find(f"/ds/{META_DIR}/{JOURNAL_CHUNKS}")
    assert len(chunks) == 1 and len(memory.cat_file(chunks[0]).splitlines()) == 4  # flushed on the way out
    # As after a kill: the last journal entries lost, a write cut short, a clip whose entry never came.
    lines = memory.cat_file(chunks[0]).splitlines(keepends=True)
    memory.pipe_file(chunks[0], b"".join(lines[:2]))
    memory.pipe_file("/ds/bearing/test/.normal_id_00_00000000.wav.0123.part", b"RIFF")
    done_after = []
    synthesize(BEARING, "memory://ds", progress=lambda done, total: done_after.append(done))
    assert done_after[0] == 3 and done_after[-1] == len(references["bearing"]) - 2  # 2 journalled clips kept
    assert memory_digest(memory, "/ds") == references["bearing"]  # no journal, no .part left


def test_failed_start_leaves_nothing_at_the_url(tmp_path, monkeypatch):
    import datasets.synth

    def broken(*args, **kwargs):
        raise FaultsynthError("rendering failed")

    target = tmp_path / "ds"
    monkeypatch.setattr(datasets.synth, "render_and_write", broken)  # fails after dataset.json was written
    with pytest.raises(FaultsynthError, match="rendering failed"):
        synthesize(BEARING, target.as_uri(), progress=False)
    assert not target.exists()
    target.mkdir()  # a folder that was there before is left empty, not removed
    with pytest.raises(FaultsynthError, match="rendering failed"):
        synthesize(BEARING, target.as_uri(), progress=False)
    assert target.is_dir() and not any(target.iterdir())


def test_unknown_protocol_or_missing_package_is_refused(tmp_path, monkeypatch):
    result = run_cli("synth", "--machine", "fan", "--count", "1", "--duration", "0.1", "--quiet",
                     "--out", "nosuchproto://bucket/ds")
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1 and lines[0].startswith("error:")
    assert "unknown protocol nosuchproto://" in lines[0] and "Traceback" not in result.stderr
    from fsspec.registry import known_implementations

    monkeypatch.setitem(known_implementations, "fakestore",
                        {"class": "fakestore_fs.FakeFileSystem", "err": "Install fakestore_fs"})
    with pytest.raises(FaultsynthError, match=r"needs the package fakestore_fs: pip install fakestore_fs"):
        synthesize(BEARING, "fakestore://bucket/ds", progress=False)
    # models, reports and firmware go to local folders: a URL is refused, also once the CLI made it a Path
    synthesize(SynthConfig(machine="fan", count=4, duration_s=0.25, seed=1), tmp_path / "ds", progress=False)
    folded = PROJECT / "memory:"  # where Path("memory://...") would have put a local folder (run_cli's cwd)
    assert not folded.exists()
    result = run_cli("train", "--data", tmp_path / "ds", "--model", "kmeans", "--out", "memory://models")
    assert result.returncode != 0 and result.stderr.startswith("error:")
    assert "only synth, inject and mix write datasets to fsspec URLs" in result.stderr
    assert not folded.exists()


#: inject into one real DCASE 2020 fan clip: a train and a test normal clip, one injected clip.
INJECT = dict(machine="fan", faults=("unbalance",), severities=(1.0,), count=1, duration_s=0.5, seed=9)


def test_inject_and_mix_to_a_url_give_the_bytes_of_a_local_folder(tmp_path, memory, shared_data):
    """Built locally, uploaded whole with the manifest last: the same files as a local folder."""
    from datasets.blend import InjectConfig, inject, mix_noise

    source = shared_data / "dcase2020" / "dev_data" / "unknown" / "train" / "normal_id_00_00000000.wav"
    inject(source, InjectConfig(**INJECT), tmp_path / "local")
    records = inject(source, InjectConfig(**INJECT), (tmp_path / "url").as_uri(), workers=2)
    assert len(records) == 3 and tree_digest(tmp_path / "url") == tree_digest(tmp_path / "local")
    mix_noise(tmp_path / "local", shared_data / "mimii", tmp_path / "mixed", snrs_db=(0,), seed=2)
    mix_noise(tmp_path / "local", shared_data / "mimii", "memory://mixed", snrs_db=(0,), seed=2)
    assert memory_digest(memory, "/mixed") == tree_digest(tmp_path / "mixed")
    with pytest.raises(FaultsynthError, match="not empty"):  # a URL holding something is never overwritten
        mix_noise(tmp_path / "local", shared_data / "mimii", "memory://mixed", snrs_db=(0,), seed=2)


def test_a_cut_upload_is_cleared_by_the_next_run(tmp_path, memory, shared_data, monkeypatch):
    import datasets.blend
    from datasets.blend import UPLOADING, InjectConfig, inject

    source = shared_data / "dcase2020" / "dev_data" / "unknown" / "train" / "normal_id_00_00000000.wav"
    inject(source, InjectConfig(**INJECT), tmp_path / "local")
    real_write = datasets.blend.UrlFolder.write_bytes
    written = []

    def cut_after_two_files(self, rel, data):
        if len(written) == 3:  # the marker and two clips uploaded: the connection dies
            raise FaultsynthError("connection lost")
        written.append(rel)
        real_write(self, rel, data)

    monkeypatch.setattr(datasets.blend.UrlFolder, "write_bytes", cut_after_two_files)
    with pytest.raises(FaultsynthError, match="connection lost"):
        inject(source, InjectConfig(**INJECT), "memory://ds")
    left = memory_digest(memory, "/ds")
    assert UPLOADING in left and not any(name.endswith("manifest.csv") for name in left)  # never a manifest
    monkeypatch.undo()
    inject(source, InjectConfig(**INJECT), "memory://ds")
    assert memory_digest(memory, "/ds") == tree_digest(tmp_path / "local")  # the marker is gone too


def test_inject_to_a_url_on_a_remote_cluster_is_refused_before_work(tmp_path):
    result = run_cli("inject", "--input", tmp_path, "--machine", "fan", "--faults", "unbalance",
                     "--out", "memory://x", "--scheduler", "tcp://127.0.0.1:1")
    assert result.returncode != 0 and result.stderr.startswith("error:") and "local:N" in result.stderr
