"""How far each synthetic normal machine sound is from the shared real recordings of its type.

Recipe (fixed before any synthetic clip was measured; change it only in a commit of its own):

* Synthetic clips: ``generators.registry.render_clip(machine, fault="none", severity=0,
  duration_s=10, sample_rate=16000, seed=s)`` for s in 0..7 (8 clips per machine, every parameter
  drawn per clip from its default range: the generator's whole range, not one machine). Two
  signals are measured: the clip as written (``signal``: machine, background noise and recording)
  and the machine part alone (``machine``), to tell generator gaps from noise gaps.
* Real clips, 16 kHz, channel 0, first 10 s (from ``../shared/data``, see its README):

  ==============  =====================================================================
  machine         real normal clips
  ==============  =====================================================================
  fan             MIMII fan id_00 normal 00000000-00000009 and DCASE 2023 fan normals (13)
  valve           DCASE 2023 valve normals (3)
  slider          DCASE 2023 slider normals (4)
  toycar          DCASE 2023 ToyCar normals (4)
  toyconveyor     DCASE 2023 ToyTrain normals (3): a toy on a loop, the nearest recorded type;
                  no ToyConveyor recording is shared
  pump            none shared (the DCASE 2020 ``unknown`` id_00 clips have no machine type): not compared
  ==============  =====================================================================

* Analysis: power STFT, 1024-sample periodic Hann frames (64 ms), hop 256 (16 ms).

  - **long-term spectrum**: per clip, the mean power of each of 64 Slaney mel bands (0-8 kHz,
    ``librosa.filters.mel``) over the clip, in dB re the clip's total mel power; averaged (in dB)
    over the clips of a type. Distance: RMS over the 64 bands of the synthetic-minus-real profile
    (dB).
  - **spectral flatness**: per frame, geometric over arithmetic mean of the power in the bins from
    50 Hz to 8 kHz (Wiener entropy); per clip the median over frames, in dB (0 dB = white noise);
    averaged over the clips of a type. Gap: synthetic minus real (dB).
  - **modulation spectrum**: the mel bands are summed into 8 bands of 8 mels; each band's energy
    envelope (one value per hop, 62.5 Hz) is divided by its mean, its mean removed, Hann
    windowed and Fourier transformed; the power is summed into the modulation octaves 0.25-0.5,
    0.5-1, 1-2, 2-4, 4-8, 8-16 and 16-31.25 Hz and averaged over the 8 bands (linear), in dB.
    Type profile: mean over clips (dB). Distance: RMS over the 7 octaves of the
    synthetic-minus-real profile (dB). A steady sound has a low profile; clicks, strokes and
    level fluctuation raise it at their rates.

Usage: ``python bench/sound_realism.py [--clips 8] [--detail]`` (``--detail`` adds the band-wise
differences). Prints one row per machine type; takes about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from errors import FaultsynthError  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLE_RATE = 16000
DURATION_S = 10.0
N_FFT = 1024
HOP = 256
N_MELS = 64
GROUPS = 8
FLATNESS_LOW_HZ = 50.0
MOD_EDGES_HZ = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 31.25)
SEEDS = range(8)

#: Synthetic machine -> DCASE 2023 type whose normal clips are its reference.
DCASE2023_TYPE = {"fan": "fan", "valve": "valve", "slider": "slider", "toycar": "ToyCar",
                  "toyconveyor": "ToyTrain"}
MACHINES = ("fan", "pump", "valve", "slider", "toycar", "toyconveyor")


@dataclass(frozen=True)
class Profile:
    """Realism measures of a set of clips (see module docstring).

    Attributes
    ----------
    spectrum_db : ndarray, shape (N_MELS,)
        Long-term mel band levels, dB re total power.
    flatness_db : float
        Median frame spectral flatness, dB.
    modulation_db : ndarray, shape (len(MOD_EDGES_HZ) - 1,)
        Envelope power per modulation octave, dB.
    n_clips : int
    """

    spectrum_db: np.ndarray
    flatness_db: float
    modulation_db: np.ndarray
    n_clips: int


def _power_stft(x: np.ndarray) -> np.ndarray:
    """Power spectrogram, shape (N_FFT//2 + 1, n_frames), of a 1-D signal at SAMPLE_RATE."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < N_FFT:
        raise FaultsynthError(f"expected a mono signal of at least {N_FFT} samples, got shape {x.shape}")
    window = np.hanning(N_FFT + 1)[:-1]  # periodic Hann
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    return (np.abs(np.fft.rfft(frames * window, axis=1)) ** 2).T


def clip_measures(x: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Long-term spectrum (dB, (N_MELS,)), flatness (dB) and modulation profile (dB) of one clip."""
    import librosa

    power = _power_stft(x)
    if not np.any(power > 0):
        raise FaultsynthError("the clip is silent: no spectrum to compare")
    mel_fb = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=0.0, fmax=SAMPLE_RATE / 2)
    mel = mel_fb @ power  # (N_MELS, n_frames)
    long_term = mel.mean(axis=1)
    spectrum_db = 10 * np.log10(np.maximum(long_term, 1e-30) / long_term.sum())

    freqs = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
    band = power[freqs >= FLATNESS_LOW_HZ] + 1e-20
    flatness = np.exp(np.mean(np.log(band), axis=0)) / np.mean(band, axis=0)
    flatness_db = float(10 * np.log10(np.median(flatness)))

    envelopes = mel.reshape(GROUPS, N_MELS // GROUPS, -1).sum(axis=1)  # (GROUPS, n_frames)
    envelopes = envelopes / np.maximum(envelopes.mean(axis=1, keepdims=True), 1e-30) - 1.0
    n = envelopes.shape[1]
    spec = np.abs(np.fft.rfft(envelopes * np.hanning(n), axis=1)) ** 2 / n
    mod_f = np.fft.rfftfreq(n, HOP / SAMPLE_RATE)
    octaves = [spec[:, (mod_f >= lo) & (mod_f < hi)].sum(axis=1).mean()
               for lo, hi in zip(MOD_EDGES_HZ[:-1], MOD_EDGES_HZ[1:])]
    modulation_db = 10 * np.log10(np.maximum(octaves, 1e-30))
    return spectrum_db, flatness_db, modulation_db


def profile(clips: list[np.ndarray]) -> Profile:
    """Type profile: the measures of every clip, averaged in dB."""
    measures = [clip_measures(c) for c in clips]
    return Profile(spectrum_db=np.mean([m[0] for m in measures], axis=0),
                   flatness_db=float(np.mean([m[1] for m in measures])),
                   modulation_db=np.mean([m[2] for m in measures], axis=0), n_clips=len(clips))


def distances(synthetic: Profile, real: Profile) -> dict[str, float]:
    """Long-term spectrum distance, flatness gap (signed) and modulation distance, all dB."""
    return {"spectrum_db": float(np.sqrt(np.mean((synthetic.spectrum_db - real.spectrum_db) ** 2))),
            "flatness_gap_db": synthetic.flatness_db - real.flatness_db,
            "modulation_db": float(np.sqrt(np.mean((synthetic.modulation_db - real.modulation_db) ** 2)))}


def real_files(machine: str, data: Path = DATA) -> list[Path]:
    """The shared real normal clips that are ``machine``'s reference (empty for the pump)."""
    files: list[Path] = []
    if machine == "fan":
        files += sorted((data / "mimii" / "fan" / "id_00" / "normal").glob("*.wav"))
    if machine in DCASE2023_TYPE:
        files += sorted((data / "dcase2023" / "dev_data" / "raw" / DCASE2023_TYPE[machine]).glob("*/*_normal_*.wav"))
    return files


def load_real(machine: str, data: Path = DATA) -> list[np.ndarray]:
    """Channel 0, first DURATION_S seconds, of each reference clip of ``machine``."""
    clips = []
    for path in real_files(machine, data):
        x, sr = sf.read(path, always_2d=True, frames=int(DURATION_S * SAMPLE_RATE))
        if sr != SAMPLE_RATE:
            raise FaultsynthError(f"{path}: expected {SAMPLE_RATE} Hz, got {sr}")
        clips.append(x[:, 0])
    return clips


def render_synthetic(machine: str, seeds=SEEDS, *, duration_s: float = DURATION_S) -> tuple[list, list]:
    """(signals, machine parts) of normal clips of ``machine``, one per seed."""
    from generators.registry import render_clip

    signals, parts = [], []
    for seed in seeds:
        clip = render_clip(machine, fault="none", severity=0.0, duration_s=duration_s,
                           sample_rate=SAMPLE_RATE, seed=int(seed))
        signals.append(clip.signal)
        parts.append(clip.machine)
    return signals, parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=len(SEEDS), help="synthetic clips per machine (seeds 0..n-1)")
    parser.add_argument("--detail", action="store_true", help="print band-wise differences")
    args = parser.parse_args()

    header = (f"{'machine':<12} {'real ref (n)':<22} {'measured':<13} {'spectrum dB':>11} "
              f"{'flatness syn/real dB':>21} {'gap dB':>7} {'modulation dB':>13}")
    print(header)
    print("-" * len(header))
    for machine in MACHINES:
        real_clips = load_real(machine)
        if not real_clips:
            print(f"{machine:<12} {'none shared':<22} (not compared)")
            continue
        real = profile(real_clips)
        reference = "MIMII+DCASE23 fan" if machine == "fan" else f"DCASE23 {DCASE2023_TYPE[machine]}"
        signals, parts = render_synthetic(machine, range(args.clips))
        for label, clips in (("clip", signals), ("machine part", parts)):
            syn = profile(clips)
            d = distances(syn, real)
            print(f"{machine:<12} {reference + f' ({real.n_clips})':<22} {label:<13} {d['spectrum_db']:>11.2f} "
                  f"{syn.flatness_db:>10.1f} / {real.flatness_db:>6.1f} {d['flatness_gap_db']:>+7.1f} "
                  f"{d['modulation_db']:>13.2f}")
            if args.detail:
                diff = syn.spectrum_db - real.spectrum_db
                print("    spectrum syn-real by 8 mel groups (dB):",
                      np.array2string(diff.reshape(GROUPS, -1).mean(axis=1), precision=1))
                print("    modulation syn / real by octave (dB):",
                      np.array2string(syn.modulation_db, precision=1), "/",
                      np.array2string(real.modulation_db, precision=1))


if __name__ == "__main__":
    main()
