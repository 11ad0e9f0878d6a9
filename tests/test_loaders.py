"""Loaders and audio reading: real samples in ../shared/data and small trees in every layout."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.io import savemat
from scipy.signal import hilbert

from datasets.audio import load_audio, load_wav
from datasets.loaders import load_records
from datasets.manifest import write_manifest
from errors import FaultsynthError

RNG = np.random.default_rng(1234)


def tone(freq_hz: float, *, sample_rate: int, duration_s: float = 0.5, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(sample_rate * duration_s)) / sample_rate
    return amplitude * np.sin(2 * np.pi * freq_hz * t)


def write(path: Path, data: np.ndarray, sample_rate: int = 16000, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sample_rate, subtype=subtype)
    return path


def noise(n: int, channels: int = 1) -> np.ndarray:
    x = 0.1 * RNG.standard_normal((n, channels))
    return x[:, 0] if channels == 1 else x


def peak_hz(x: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / sample_rate)[np.argmax(spectrum)])


# ---- real samples -------------------------------------------------------------------------------

def test_mimii_sample(shared_data):
    records = load_records(shared_data / "mimii")
    assert {r.label for r in records if "abnormal" in r.path} == {"anomaly"}
    assert sum(r.label == "normal" for r in records) == 10 and sum(r.label == "anomaly" for r in records) == 10
    assert {(r.machine, r.machine_id, r.sample_rate, r.channels, r.split) for r in records} == {
        ("fan", "id_00", 16000, 8, "test")}
    anomaly = next(r for r in records if r.label == "anomaly")
    assert anomaly.fault == "unknown" and math.isnan(anomaly.severity)
    assert {r.split for r in load_records(shared_data / "mimii", split="train")} == {"train"}
    x = load_audio(records[0], channel=None)
    assert x.shape[1] == 8 and x.dtype == np.float32
    mean = load_audio(records[0], channel="mean")
    assert np.allclose(mean, x.astype(np.float64).mean(axis=1), atol=1e-6)


def test_dcase2020_sample(shared_data):
    records = load_records(shared_data / "dcase2020" / "dev_data")
    train = [r for r in records if r.split == "train"]
    test = [r for r in records if r.split == "test"]
    assert len(train) == 20 and {r.label for r in train} == {"normal"}
    assert [r.label for r in test] == ["anomaly"]
    assert {r.machine_id for r in records} == {"id_00"}


def test_dcase2023_sample(shared_data):
    records = load_records(shared_data / "dcase2023" / "dev_data" / "raw")
    assert {r.machine for r in records} == {"toycar", "toytrain", "bearing", "fan", "gearbox", "slider", "valve"}
    assert sum(r.label == "anomaly" for r in records) == 5 and len(records) == 28
    car = next(r for r in records if r.path.endswith("section_00_source_train_normal_0362_car_C2_spd_31V_mic_1.wav"))
    assert car.params["car"] == "C2" and car.params["spd"] == "31V" and car.params["mic"] == "1"
    assert car.params["domain"] == "source" and car.split == "train" and car.machine_id == "id_00"
    slider = load_records(shared_data / "dcase2023" / "dev_data" / "raw", machine="slider")
    assert {r.machine for r in slider} == {"slider"} and len(slider) == 4
    with pytest.raises(FaultsynthError, match="expected one of"):
        load_records(shared_data / "dcase2023" / "dev_data" / "raw", machine="pump")


def test_cwru_sample_metadata(shared_data):
    records = {Path(r.path).stem: r for r in load_records(shared_data / "cwru")}
    normal = records["normal_0_97"]
    assert (normal.label, normal.fault, normal.severity, normal.sample_rate) == ("normal", "none", 0.0, 48000)
    ir = records["12k_Drive_End_IR014_0_169"]
    assert (ir.fault, ir.sample_rate, ir.params["fault_size_in"]) == ("inner_race", 12000, 0.014)
    assert ir.severity == pytest.approx(0.5) and ir.params["channel_names"] == ["DE", "FE", "BA"]
    assert records["12k_Drive_End_OR021@6_0_234"].params["fault_position_oclock"] == 6
    assert records["48k_Drive_End_B007_0_122"].sample_rate == 48000
    assert all(1700 < r.params["rpm"] < 1800 for r in records.values())
    assert records["12k_Drive_End_B007_0_118"].duration_s == pytest.approx(122571 / 12000)


@pytest.mark.parametrize("name,ratio", [("12k_Drive_End_OR007@6_0_130", 3.5848),
                                        ("48k_Drive_End_OR007@6_0_135", 3.5848),
                                        ("12k_Drive_End_IR007_0_105", 5.4152)])
def test_cwru_fault_frequency_in_envelope(shared_data, name, ratio):
    """The drive-end channel at the stated rate shows the fault frequency (checks rate, channel, rpm)."""
    record = load_records(shared_data / "cwru" / f"{name}.mat")[0]
    x = load_audio(record, channel="DE").astype(np.float64)[: record.sample_rate * 2]
    envelope = np.abs(hilbert(x - x.mean()))
    envelope -= envelope.mean()
    spectrum = np.abs(np.fft.rfft(envelope * np.hanning(envelope.size)))
    freqs = np.fft.rfftfreq(envelope.size, 1 / record.sample_rate)
    band = (freqs > 20) & (freqs < 300)
    expected = ratio * record.params["rpm"] / 60
    assert abs(freqs[band][np.argmax(spectrum[band])] - expected) < 0.02 * expected


# ---- generated trees ----------------------------------------------------------------------------

def test_mimii_tree_with_snr_folder(tmp_path):
    root = tmp_path / "release"
    for label in ("normal", "abnormal"):
        for i in range(2):
            write(root / "-6_dB_valve" / "valve" / "id_04" / label / f"{i:08d}.wav", noise(800, 8))
    records = load_records(root)
    assert len(records) == 4
    assert {(r.machine, r.machine_id, r.channels, r.params["snr_db"]) for r in records} == {("valve", "id_04", 8, -6.0)}
    assert sorted(r.label for r in records) == ["anomaly", "anomaly", "normal", "normal"]
    assert records[0].duration_s == pytest.approx(800 / 16000)


def test_toyadmos_tree(tmp_path):
    case = tmp_path / "ToyConveyor" / "case3"
    for ch in (1, 2):
        write(case / "NormalSound_IND" / f"1100010001_ToyConveyor_case3_normal_IND_ch{ch}_0001.wav",
              noise(960), 48000)
        write(case / "AnomalousSound_IND" / f"1101010001_ToyConveyor_case3_ab02_IND_ch{ch}_0001.wav",
              noise(960), 48000)
    write(case / "EnvironmentalNoise_CNT" / "env_ch1_0001.wav", noise(960), 48000)
    records = load_records(tmp_path)
    assert len(records) == 4  # environmental noise holds no machine sound: left out
    assert {(r.machine, r.machine_id, r.sample_rate) for r in records} == {("toyconveyor", "id_03", 48000)}
    assert sorted(r.params["mic"] for r in records) == [1, 1, 2, 2]
    anomalies = [r for r in records if r.label == "anomaly"]
    assert {r.params["anomaly_code"] for r in anomalies} == {"ab02"} and len(anomalies) == 2


def test_dcase2020_tree_ids_and_splits(tmp_path):
    write(tmp_path / "pump" / "train" / "normal_id_02_00000000.wav", noise(400))
    write(tmp_path / "pump" / "test" / "anomaly_id_04_00000007.wav", noise(400))
    write(tmp_path / "pump" / "test" / "normal_id_04_00000008.wav", noise(400))
    records = load_records(tmp_path, layout="dcase2020")
    assert [(r.split, r.machine_id, r.label) for r in records] == [
        ("test", "id_04", "anomaly"), ("test", "id_04", "normal"), ("train", "id_02", "normal")]


def test_dcase2021_tree_attributes(tmp_path):
    write(tmp_path / "ToyTrain" / "train" / "section_03_target_train_normal_0005_car_A1_spd_6_mic_2.wav", noise(400))
    write(tmp_path / "valve" / "test" / "section_01_source_test_anomaly_0000_strength_1_ambient.wav", noise(400))
    records = {r.machine: r for r in load_records(tmp_path)}
    train = records["toytrain"]
    assert (train.machine_id, train.split, train.params["domain"], train.params["section"]) == (
        "id_03", "train", "target", "03")
    assert (train.params["car"], train.params["spd"], train.params["mic"]) == ("A1", "6", "2")
    valve = records["valve"]
    assert valve.label == "anomaly" and valve.params["strength"] == "1" and valve.params["attribute_extra"] == "ambient"


def test_dcase2021_unlabelled_eval_file_is_rejected(tmp_path):
    write(tmp_path / "fan" / "test" / "section_00_0001.wav", noise(400))
    with pytest.raises(FaultsynthError, match="no normal/anomaly label"):
        load_records(tmp_path)


def test_wav_layout_needs_asking_and_labels_from_path(tmp_path):
    write(tmp_path / "line1" / "motor_a.wav", noise(400))
    write(tmp_path / "line1" / "abnormal" / "motor_b.wav", noise(400))
    with pytest.raises(FaultsynthError, match="--layout wav"):
        load_records(tmp_path)
    records = load_records(tmp_path, layout="wav", machine="Motor")
    assert [(r.machine, r.label) for r in records] == [("motor", "anomaly"), ("motor", "normal")]
    assert records[1].params["label_assumed"] is True
    single = load_records(tmp_path / "line1" / "motor_a.wav")
    assert single[0].path == "motor_a.wav" and single[0].root == str(tmp_path / "line1")


def test_faultsynth_manifest_and_checksums(tmp_path):
    from provenance import sha256_file

    file = write(tmp_path / "fan" / "train" / "normal_id_00_00000000.wav", noise(400))
    record = load_records(tmp_path)[0].replace(source="synthetic", seed=7, sha256=sha256_file(file))
    write_manifest(tmp_path, [record])
    loaded = load_records(tmp_path, verify=True)
    assert [(r.source, r.seed) for r in loaded] == [("synthetic", 7)]
    write(file, noise(400))  # different content
    with pytest.raises(FaultsynthError, match="sha256"):
        load_records(tmp_path, verify=True)
    bad: list = []
    assert load_records(tmp_path, verify=True, bad=bad) == [] and len(bad) == 1


def test_bad_layouts_and_folders(tmp_path):
    with pytest.raises(FaultsynthError, match="expected auto or one of mimii"):
        load_records(tmp_path, layout="esc50")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FaultsynthError, match="no .wav or .mat files"):
        load_records(tmp_path / "empty")
    write(tmp_path / "mixed" / "fan" / "id_00" / "normal" / "00000000.wav", noise(400))
    write(tmp_path / "mixed" / "fan" / "train" / "normal_id_00_00000000.wav", noise(400))
    with pytest.raises(FaultsynthError, match="several layouts"):
        load_records(tmp_path / "mixed")


def test_truncated_and_corrupt_wav(tmp_path):
    good = write(tmp_path / "fan" / "id_00" / "normal" / "00000000.wav", noise(4000))
    truncated = tmp_path / "fan" / "id_00" / "normal" / "00000001.wav"
    truncated.write_bytes(good.read_bytes()[:3000])
    with pytest.raises(FaultsynthError, match="00000001.wav: truncated"):
        load_records(tmp_path)
    (tmp_path / "fan" / "id_00" / "normal" / "00000002.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    bad: list = []
    records = load_records(tmp_path, bad=bad)
    assert [r.path for r in records] == ["fan/id_00/normal/00000000.wav"]
    assert sorted(Path(f).name for f, _ in bad) == ["00000001.wav", "00000002.wav"]


# ---- audio --------------------------------------------------------------------------------------

def test_channel_selection(tmp_path):
    data = np.stack([tone(440, sample_rate=16000), tone(1000, sample_rate=16000)], axis=1)
    write(tmp_path / "fan" / "id_00" / "normal" / "00000000.wav", data)
    record = load_records(tmp_path)[0]
    assert peak_hz(load_audio(record, channel=1), 16000) == pytest.approx(1000, abs=3)
    assert peak_hz(load_audio(record, channel=0), 16000) == pytest.approx(440, abs=3)
    with pytest.raises(FaultsynthError, match="no channel 2: expected 0..1"):
        load_audio(record, channel=2)


@pytest.mark.parametrize("method", ["polyphase", "soxr"])
def test_resample_keeps_tone_and_removes_alias(tmp_path, method):
    x = tone(1000, sample_rate=16000, duration_s=1.0, amplitude=0.5) + tone(7000, sample_rate=16000, duration_s=1.0,
                                                                              amplitude=0.3)
    path = write(tmp_path / "a.wav", x, subtype="FLOAT")
    y, rate = load_wav(path, sample_rate=8000, resample_method=method)
    assert rate == 8000 and y.size == 8000
    core = y[500:-500].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(core * np.hanning(core.size))) / (np.hanning(core.size).sum() / 2)
    freqs = np.fft.rfftfreq(core.size, 1 / 8000)
    assert freqs[np.argmax(spectrum)] == pytest.approx(1000, abs=2)
    assert spectrum.max() == pytest.approx(0.5, rel=0.01)
    # 7 kHz lies above the new Nyquist (4 kHz): it must not alias to 1 kHz
    alias = spectrum[np.abs(freqs - 1000) > 20].max()
    assert 20 * np.log10(alias / 0.3) < -60


def test_bad_samples(tmp_path):
    x = noise(1000)
    x[10] = np.nan
    write(tmp_path / "nan.wav", x, subtype="FLOAT")
    with pytest.raises(FaultsynthError, match="nan.wav: contains NaN or Inf"):
        load_wav(tmp_path / "nan.wav")
    write(tmp_path / "zero.wav", np.zeros(1000))
    with pytest.raises(FaultsynthError, match="zero.wav: all samples are zero"):
        load_wav(tmp_path / "zero.wav")
    write(tmp_path / "rate.wav", noise(1000), 8000)
    with pytest.raises(FaultsynthError, match="rate.wav: sample rate 8000 Hz, expected 16000"):
        load_wav(tmp_path / "rate.wav", expected_sample_rate=16000)


def test_record_disagreeing_with_file(tmp_path):
    write(tmp_path / "x" / "train" / "normal_id_00_00000000.wav", noise(1000))
    record = load_records(tmp_path)[0]
    with pytest.raises(FaultsynthError, match="sample rate 16000 Hz, but its record says 8000"):
        load_audio(record.replace(sample_rate=8000))
    with pytest.raises(FaultsynthError, match="1 channels, but its record says 2"):
        load_audio(record.replace(channels=2))


def test_mat_without_expected_variables(tmp_path):
    savemat(tmp_path / "12k_Drive_End_IR007_0_105.mat", {"signal": np.zeros((10, 1))})
    with pytest.raises(FaultsynthError, match="no X<nnn>_DE_time"):
        load_records(tmp_path)
    savemat(tmp_path / "12k_Drive_End_IR007_0_105.mat", {"X105_DE_time": noise(1200)[:, None]})
    record = load_records(tmp_path)[0]
    assert record.params["rpm_source"] == "nominal" and record.params["rpm"] == 1797.0
    assert record.channels == 1 and record.duration_s == pytest.approx(0.1)
    savemat(tmp_path / "12k_Drive_End_IR007_0_105.mat", {"X999_FE_time": noise(1200)[:, None]})
    with pytest.raises(FaultsynthError, match="no variable X105_DE_time"):
        load_audio(record)
    savemat(tmp_path / "mystery.mat", {"X105_DE_time": noise(1200)[:, None]})
    with pytest.raises(FaultsynthError, match="mystery.mat: not a CWRU file name"):
        load_records(tmp_path / "mystery.mat")
