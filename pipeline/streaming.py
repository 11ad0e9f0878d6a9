"""Streaming decisions: per-window flags and the N-of-M alarm, exactly as the C runtime takes them.

A monitor does not wait for a clip to end: every feature window is scored as
it completes and flagged when its score exceeds the device threshold (the
same integer threshold the clip decision uses, in the window-score domain); an
alarm holds while at least ``n`` of the last ``m`` windows are flagged (fewer
than ``m`` at the start of a stream count as they are). The C runtime
(firmware/src/fs_clip.c) keeps the same bit history; :func:`alarm_states` is
its mirror, bit for bit; each device scorer (pipeline.device_scorer) flags
its windows.

Defaults, n = 7 of m = 10: a single loud window never raises an alarm; at
the TinyML front end (a window every 32 ms) ten windows span 0.32 s, so a
fault that makes most windows exceed the threshold alarms within about half
a second; and if normal windows exceeded the threshold independently at the
threshold's 10 % false-positive target, 7 of 10 would happen with probability
9.1e-6 per window, about one false alarm per hour of audio. Overlapping
windows are not independent, so the rate measured on normal clips
(``firmware`` reports it) is the figure to trust.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from errors import FaultsynthError

#: Default alarm: at least DEFAULT_N of the last DEFAULT_M windows over the threshold.
DEFAULT_N = 7
DEFAULT_M = 10
#: The C runtime keeps the window history in one 32-bit word.
MAX_M = 32


@dataclass(frozen=True)
class AlarmRule:
    """N-of-M alarm: on while at least ``n`` of the last ``m`` window flags are set.

    Parameters
    ----------
    n : int
        Flagged windows needed, 1 <= n <= m.
    m : int
        Windows remembered, 1 <= m <= 32.
    """

    n: int = DEFAULT_N
    m: int = DEFAULT_M

    def __post_init__(self) -> None:
        for name in ("n", "m"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise FaultsynthError(f"alarm {name} must be an integer, got {value!r}")
        if not 1 <= self.m <= MAX_M or not 1 <= self.n <= self.m:
            raise FaultsynthError(f"alarm needs 1 <= n <= m <= {MAX_M}, got n={self.n}, m={self.m}")

    @classmethod
    def parse(cls, text: str) -> "AlarmRule":
        """``"7/10"`` (n of m) -> AlarmRule(7, 10)."""
        parts = str(text).split("/")
        try:
            if len(parts) != 2:
                raise ValueError
            n, m = (int(p.strip()) for p in parts)
        except ValueError:
            raise FaultsynthError(f"bad alarm rule {text!r}: expected N/M, e.g. '7/10' (alarm when at least N "
                                  f"of the last M windows exceed the threshold, M <= {MAX_M})") from None
        return cls(n=n, m=m)

    def to_dict(self) -> dict:
        return {"n": int(self.n), "m": int(self.m)}


def alarm_states(flags: np.ndarray, rule: AlarmRule) -> np.ndarray:
    """Alarm state after each window (bool, same length as ``flags``)."""
    flags = np.asarray(flags, dtype=bool)
    counts = np.convolve(flags.astype(np.int64), np.ones(rule.m, dtype=np.int64))[:flags.size]
    return counts >= rule.n


def window_end_samples(feature_config, n_windows: int, n_samples: int) -> np.ndarray:
    """Sample index (from the clip start) at which each window's last frame is complete, int64 (n_windows,).

    Frames are ``n_fft`` samples every ``hop_length``; window w stacks frames
    w .. w + n_frames - 1. With ``center=True`` frame t starts n_fft/2 before
    t * hop (zero padding), and the padded end of the clip completes the last
    frames when the clip ends.
    """
    n_fft, hop, n_frames = int(feature_config.n_fft), int(feature_config.hop_length), int(feature_config.n_frames)
    last_frame = np.arange(n_windows, dtype=np.int64) + n_frames - 1
    end = last_frame * hop + (n_fft // 2 if feature_config.center else n_fft)
    return np.minimum(end, int(n_samples))


def min_latency_s(feature_config, rule: AlarmRule) -> float:
    """Earliest alarm after a fault appears at a window boundary, seconds: one full window, then n - 1 hops."""
    n_fft, hop = int(feature_config.n_fft), int(feature_config.hop_length)
    span = n_fft + (int(feature_config.n_frames) - 1) * hop
    return (span + (rule.n - 1) * hop) / float(feature_config.sample_rate)


def alarm_events(states: np.ndarray) -> int:
    """Number of times the alarm turns on (rising edges; a stream starts with it off)."""
    s = np.asarray(states, dtype=bool)
    return int(np.count_nonzero(s[1:] & ~s[:-1]) + (1 if s.size and s[0] else 0))


def fnv1a(states: np.ndarray) -> int:
    """32-bit FNV-1a hash of the alarm states, one byte (0 or 1) per window (the Cortex-M4 driver's digest)."""
    h = 0x811C9DC5
    for s in np.asarray(states, dtype=bool):
        h = ((h ^ int(s)) * 0x01000193) & 0xFFFFFFFF
    return h
