"""Solenoid valve sound (MIMII / DCASE ``valve``).

Normal sound: a repeating pattern of open/close motions. Each cycle of ``cycle_s`` has
``pulses_per_cycle`` pulses spread over its first ``active_fraction``; a pulse opens the valve
and closes it ``hold_fraction`` of the pulse spacing later. Every motion is a plunger impact:
an impulse exciting the valve body's modes (a click, mostly above 1.5 kHz); the flow through
the open valve adds jet hiss (broadband, high-passed at ``jet_cutoff_hz``). Under it runs the steady
sound of the pneumatic / hydraulic system: low-frequency flow noise falling steeply above its corner,
mains hum and a pump / compressor tone.

Faults (time-localised: one :class:`Event` per affected motion; s = 0 renders the normal valve):

- ``contamination``: debris makes the plunger stick: some motions come late (with a harder
  release) or not at all, and while the plunger is stuck the solenoid buzzes at twice the
  mains frequency (the unseated armature);
- ``timing_change``: the controller's timing drifts: the valve closes too early (shorter open
  time), so every close motion comes early.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from generators.base import Event, FaultSpec
from generators.parameters import FaultParameter, Parameter
from generators.sound_dsp import (cycles, db, harmonics, highpass, impact_kernel, impacts, rfft_frequencies,
                                  shape, slow_knots, smooth, smoothed_steps, tilt, white_spectrum)
from generators.sound_machine import AudioMachine, level_rms_parameter

#: Ratios of the valve body's higher modes to the main click mode.
MODE_RATIOS = (1.0, 1.47, 2.09, 2.76)
#: Time before a nominal motion that its event starts (s).
EVENT_LEAD_S = 0.002


class Valve(AudioMachine):
    """Solenoid valve (see module docstring)."""

    name = "valve"
    declarations = (
        Parameter('cycle_s', 'period of the open/close pattern', 's', low=0.8, high=3.0, level="operating", spread=0.02),
        Parameter('pulses_per_cycle', 'open/close pulses per cycle', low=1, high=3, integer=True),
        Parameter('active_fraction', 'part of the cycle the pulses are spread over', low=0.4, high=1.0),
        Parameter('hold_fraction', 'open time as a fraction of the pulse spacing', low=0.2, high=0.5),
        Parameter('start_s', 'time of the first motion', 's', low=0.0, high=0.8, level="recording"),
        Parameter('click_mode_hz', 'main mode of the valve body excited by the plunger', 'Hz', low=1500.0, high=5000.0, log=True),
        Parameter('click_decay_s', 'decay time constant of the click modes', 's', low=0.001, high=0.005, log=True),
        Parameter('click_level_db', 'click peak re system-noise RMS', 'dB', low=22.0, high=32.0),
        Parameter('close_open_ratio_db', 'close click level re open click', 'dB', low=-6.0, high=6.0),
        Parameter('open_flow_level_db', 'jet hiss RMS while the valve is open, dB re system-noise RMS', 'dB', low=-12.0, high=-2.0),
        Parameter('jet_cutoff_hz', 'high-pass corner of the jet hiss through the open valve', 'Hz', low=800.0, high=2000.0, log=True),
        Parameter('system_corner_hz', 'corner of the system flow-noise spectrum', 'Hz', low=100.0, high=400.0, log=True),
        Parameter('system_slope_db_per_octave', 'system flow-noise slope above the corner', 'dB/octave', low=4.0, high=6.0),
        Parameter('mains_hz', 'mains frequency, Hz (hum at twice it)', 'Hz', options=(50.0, 60.0)),
        Parameter('hum_level_db', 'mains hum level re system-noise RMS', 'dB', low=-15.0, high=0.0),
        Parameter('system_tone_hz', 'pump / compressor tone of the system', 'Hz', low=150.0, high=1200.0, log=True),
        Parameter('system_tone_level_db', 'system tone level re system-noise RMS', 'dB', low=-12.0, high=0.0),
        level_rms_parameter(0.02, 0.05),
    )
    faults = {
        "contamination": FaultSpec('contamination', 'debris makes the plunger stick: delayed or missing motions', (
            FaultParameter('stuck_probability', 0.7, '', 'chance that a motion sticks (nested: more severity adds motions; at least one motion of the clip sticks when severity > 0)'),
            FaultParameter('stuck_delay_scale_s', 0.4, 's', 'a stuck motion comes (0.03 + stuck_delay_scale_s*(0.5 + u)) s late, u ~ U(0, 1), or not at all if that reaches the next motion'),
            FaultParameter('release_gain', 0.3, '', 'amplitude of a late (stuck) click', offset=1.0),
            FaultParameter('buzz_ratio', 3, '', 'solenoid buzz RMS re system-noise RMS while stuck')), time_localised=True),
        "timing_change": FaultSpec('timing_change', 'the valve closes earlier than programmed: shorter open time', (
            FaultParameter('hold_change_fraction', -0.8, '', 'close motions come 0.8*severity*hold_fraction*spacing s early'),), time_localised=True),
    }

    def _characteristic_hz(self, params: Mapping[str, Any]) -> dict[str, float]:
        return {"valve click mode": params["click_mode_hz"], "system tone": params["system_tone_hz"]}

    def motions(self, params: Mapping[str, Any], duration_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Nominal motion times (s) within ``[0, duration_s)`` and whether each is a close motion."""
        spacing = params["cycle_s"] * params["active_fraction"] / params["pulses_per_cycle"]
        n_cycles = int(np.ceil(duration_s / params["cycle_s"])) + 1
        opens = (params["start_s"] + np.arange(n_cycles)[:, None] * params["cycle_s"]
                 + np.arange(params["pulses_per_cycle"])[None, :] * spacing).ravel()
        closes = opens + params["hold_fraction"] * spacing
        times = np.concatenate([opens, closes])
        is_close = np.concatenate([np.zeros(opens.size, bool), np.ones(closes.size, bool)])
        order = np.argsort(times, kind="stable")
        times, is_close = times[order], is_close[order]
        keep = times < duration_s
        return times[keep], is_close[keep]

    def _synthesise(self, params: Mapping[str, Any], *, n_samples: int, sample_rate: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, list[Event]]:
        p, n, sr = params, n_samples, sample_rate
        duration_s = n / sr
        fault = str(p.get("fault", "none"))

        flow_spec = white_spectrum(rng, n)
        jet_spec = white_spectrum(rng, n)
        fluct = slow_knots(rng, n, sr, bandwidth_hz=0.5)
        phases = rng.uniform(0, 2 * np.pi, 4)
        click_noise = rng.standard_normal(int(0.2 * sr) + 1)

        times, is_close = self.motions(p, duration_s)
        u, v = rng.random((2, times.size))  # per-motion marks for sticking
        gains = np.where(is_close, db(p["close_open_ratio_db"]), 1.0) * db(p["click_level_db"])
        kernel = impact_kernel(click_noise, sr, modes_hz=[p["click_mode_hz"] * r for r in MODE_RATIOS],
                               decay_s=p["click_decay_s"], burst_decay_s=0.0008, modal_weight=0.5)

        f = rfft_frequencies(n, sr)
        flow_mag = (tilt(f, corner_hz=p["system_corner_hz"], slope_db_per_octave=p["system_slope_db_per_octave"])
                    * highpass(f, cutoff_hz=20.0))
        flow_mag /= np.sqrt(np.mean(flow_mag**2))
        flow = shape(flow_spec, flow_mag, n, overwrite=True)
        # the jet through the open valve: hiss high-passed at jet_cutoff_hz (orifice flow noise peaks in kHz)
        jet_mag = highpass(f, cutoff_hz=p["jet_cutoff_hz"], order=2) * tilt(f, corner_hz=4000.0,
                                                                           slope_db_per_octave=6.0)
        jet_mag *= np.float32(db(p["open_flow_level_db"]) / np.sqrt(np.mean(jet_mag**2)))
        jet = shape(jet_spec, jet_mag, n, overwrite=True)
        del flow_spec, jet_spec, f, flow_mag, jet_mag
        gate = _open_gate(times, is_close, n, sr)
        out = smooth(fluct, n, scale=0.03, offset=1.0)
        out *= flow
        out += gate * jet
        tone = harmonics(cycles(2 * p["mains_hz"], n, sr), [1.0, 0.4], phases[:2])
        tone *= np.float32(db(p["hum_level_db"]) * 1.3)
        out += tone
        harmonics(cycles(p["system_tone_hz"], n, sr), [1.0, 0.3], phases[2:], out=tone)
        tone *= np.float32(db(p["system_tone_level_db"]) * 1.35)
        out += tone
        del tone
        out += impacts(n, times, gains, kernel, sr)
        if fault == "none":
            return out, None, []

        actual = times.copy()
        present = np.ones(times.size, bool)
        if fault == "contamination":
            # nested in severity; the motion with the lowest mark sticks whenever severity > 0
            affected = u < p["stuck_probability"]
            if u.size and p["stuck_probability"] > 0:
                affected |= u == u.min()
            next_gap = np.append(np.diff(times), np.inf)
            delay = 0.03 + p["stuck_delay_scale_s"] * (0.5 + v)
            missing = affected & (delay >= 0.9 * next_gap)  # stuck through the whole command window
            present &= ~missing
            delayed = affected & ~missing
            actual[delayed] += delay[delayed]
            faulty_gains = np.where(delayed, gains * p["release_gain"], gains)
        else:  # timing_change
            spacing = p["cycle_s"] * p["active_fraction"] / p["pulses_per_cycle"]
            shift_s = p["hold_change_fraction"] * p["hold_fraction"] * spacing
            affected = is_close & (shift_s != 0)
            actual[affected] += shift_s
            faulty_gains = gains

        # the fault component: moved or missing clicks, and the changed open-valve jet hiss
        moved = affected & present
        part = impacts(n, np.concatenate([actual[moved], times[affected]]),
                       np.concatenate([faulty_gains[moved], -gains[affected]]), kernel, sr)
        gate_change = _open_gate(actual[present], is_close[present], n, sr)
        gate_change -= gate
        gate_change *= jet
        part += gate_change
        if fault == "contamination":
            # the stuck armature buzzes from the commanded motion until it moves (or the next command)
            next_nominal = np.append(times[1:], duration_s)
            stuck_end = np.where(present, actual, next_nominal)
            edges = np.round(np.concatenate([times[affected], stuck_end[affected]]) * sr).astype(np.int64)
            order = np.argsort(edges, kind="stable")
            stuck = np.clip(np.cumsum(np.repeat([1.0, -1.0], np.count_nonzero(affected))[order]), 0.0, 1.0)
            buzz_amps = np.array([1.0, 0.7, 0.5, 0.35, 0.25, 0.18])
            buzz = harmonics(cycles(2 * p["mains_hz"], n, sr), buzz_amps, [0.0] * 6)
            buzz *= smoothed_steps(edges[order], stuck, n, sr, smooth_s=0.002)
            buzz *= np.float32(p["buzz_ratio"] / np.sqrt(np.sum(buzz_amps**2) / 2))
            part += buzz

        events = []
        tail_s = 6 * p["click_decay_s"]
        next_nominal = np.append(times[1:], duration_s)
        for t0, t1, ok, hit, t_next in zip(times, actual, present, affected, next_nominal):
            if hit:
                # a missing motion leaves the valve in the wrong state until the next motion
                end = (max(t0, t1) if ok else t_next) + tail_s
                events.append(Event(onset_s=float(max(0.0, min(t0, t1) - EVENT_LEAD_S)),
                                    offset_s=float(min(duration_s, end)), fault=fault))
        return out, part, events


def _open_gate(times_s: np.ndarray, is_close: np.ndarray, n_samples: int, sample_rate: int) -> np.ndarray:
    """Valve state (1 open, 0 closed) set by the last motion at or before each sample, edges smoothed.

    Parameters
    ----------
    times_s : ndarray, shape (k,)
        Motion times, s (any order).
    is_close : ndarray of bool, shape (k,)
        Whether each motion closes the valve.

    Returns
    -------
    ndarray, shape (n_samples,), float32
    """
    order = np.argsort(times_s, kind="stable")
    first = np.ceil(times_s[order] * sample_rate).astype(np.int64)  # first sample at or after each motion
    return smoothed_steps(first, ~is_close[order], n_samples, sample_rate, smooth_s=0.003)


VALVE = Valve()
