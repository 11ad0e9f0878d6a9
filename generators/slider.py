"""Linear slide rail sound (MIMII / DCASE ``slider``).

Normal sound: the carriage travels out and back once per ``cycle_s`` with a trapezoidal
speed profile (accelerate, cruise, decelerate, dwell at the end). While it moves: motor
whine whose frequency follows the speed (``motor_whine_hz`` at top speed, with two
harmonics), ball-screw / bearing rolling noise proportional to speed and rippled at the screw
rotation rate; at each end an end-stop click. The drive hums at twice the mains frequency
and a steady standby floor runs throughout.

Faults (severity s in [0, 1]; s = 0 renders the normal slider):

- ``rail_damage``: a dent at ``damage_position`` of the stroke: a click each time the
  carriage passes it (time-localised events);
- ``loose_belt``: irregular speed and rattle impacts while the load reverses (accelerating /
  decelerating);
- ``no_grease``: intermittent stick-slip squeal at ``squeal_hz`` and more friction noise.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from generators.base import Event, FaultSpec
from generators.parameters import FaultParameter, Parameter
from generators.sound_dsp import (cycles, db, harmonic_count, harmonics, highpass, impact_kernel, impacts,
                                  modulate, moving_average_gate, nested_poisson, resonance_boost,
                                  rfft_frequencies, shape, sine, slow_knots, smooth, tilt, white_spectrum)
from generators.sound_machine import AudioMachine, level_rms_parameter

#: Highest rattle rate (loose belt at severity 1) while the load reverses, per second.
MAX_RATTLE_RATE_HZ = 60.0


def speed_profile(t_s: np.ndarray, *, cycle_s: float, dwell_fraction: float, accel_fraction: float,
                  cycle_phase: float) -> np.ndarray:
    """Signed carriage speed in strokes per second (out positive, back negative).

    Parameters
    ----------
    t_s : ndarray, shape (n,)
        Times, s.
    cycle_s, dwell_fraction, accel_fraction, cycle_phase : float
        Out-and-back period (s), dwell share of each half cycle, acceleration share of each
        move, and the cycle phase (0..1) at t = 0.

    Returns
    -------
    ndarray, shape (n,), float64: the speed; each move covers exactly one stroke.
    """
    half = cycle_s / 2
    w = np.multiply(t_s, 1.0 / cycle_s)
    w += cycle_phase
    w -= np.floor(w)  # phase within the out-and-back cycle, 0..1
    back = w >= 0.5
    tau = np.subtract(w, 0.5, out=w, where=back)
    tau *= 2.0 * half  # time within the current half cycle
    move = half * (1.0 - dwell_fraction)
    acc = accel_fraction * move
    # min(tau, move - tau) is negative while dwelling (tau > move): the clip makes the speed 0 there
    v = np.subtract(move, tau)
    np.minimum(v, tau, out=v)
    v *= 1.0 / acc
    np.clip(v, 0.0, 1.0, out=v)
    v *= 1.0 / (move - acc)
    return np.negative(v, out=v, where=back)


class Slider(AudioMachine):
    """Linear slide (see module docstring)."""

    name = "slider"
    declarations = (
        Parameter('cycle_s', 'out-and-back travel period', 's', low=1.0, high=3.0, level="operating", spread=0.02),
        Parameter('dwell_fraction', 'share of each half cycle spent at rest', low=0.3, high=0.7),
        Parameter('accel_fraction', 'share of each move spent accelerating (and decelerating)', low=0.3, high=0.5),
        Parameter('cycle_phase', 'phase of the travel cycle at t = 0', low=0.0, high=1.0, level="recording"),
        Parameter('motor_whine_hz', 'motor whine frequency at top speed', 'Hz', low=1500.0, high=6000.0, log=True),
        Parameter('whine_level_db', 'motor whine level re rolling noise at top speed', 'dB', low=-20.0, high=-5.0),
        Parameter('screw_hz', 'ball-screw rotation rate at top speed', 'Hz', low=10.0, high=50.0),
        Parameter('rolling_corner_hz', 'corner of the rolling-noise spectrum', 'Hz', low=300.0, high=2000.0, log=True),
        Parameter('rolling_slope_db_per_octave', 'rolling-noise slope above the corner', 'dB/octave', low=4.0, high=8.0),
        Parameter('carriage_mode_hz', 'main structural mode rung by impacts', 'Hz', low=500.0, high=3000.0, log=True),
        Parameter('stop_click_level_db', 'end-stop click peak re rolling-noise RMS at top speed', 'dB', low=3.0, high=12.0),
        Parameter('mains_hz', 'mains frequency, Hz (drive hum at twice it)', 'Hz', options=(50.0, 60.0)),
        Parameter('hum_level_db', 'drive hum level re rolling noise at top speed', 'dB', low=-25.0, high=-8.0),
        Parameter('standby_level_db', 'steady standby noise re rolling noise at top speed', 'dB', low=-6.0, high=3.0),
        Parameter('standby_corner_hz', 'corner of the standby-noise spectrum', 'Hz', low=80.0, high=400.0, log=True),
        Parameter('damage_position', 'position of rail damage along the stroke (rail_damage)', low=0.15, high=0.85, level="recording"),
        Parameter('squeal_hz', 'stick-slip squeal frequency, Hz (no_grease)', 'Hz', low=1500.0, high=5000.0, log=True),
        level_rms_parameter(),
    )
    faults = {
        "rail_damage": FaultSpec('rail_damage', 'dent or spall on the rail: a click each time the carriage passes it', (
            FaultParameter('damage_click_ratio', 2, '', 'click peak re end-stop click peak, times (0.4 + 0.6 x relative speed)'),), time_localised=True),
        "loose_belt": FaultSpec('loose_belt', 'slack drive belt: irregular speed and rattle while the load reverses', (
            FaultParameter('speed_irregularity', 0.25, '', 'relative std of the carriage speed, ~6 Hz fluctuation; the motor keeps its speed'),
            FaultParameter('rattle_rate_hz', MAX_RATTLE_RATE_HZ, '', 'impacts per second while accelerating'),
            FaultParameter('rattle_ratio', 0.9, '', 'rattle impact peak re end-stop click peak (log-normal spread 0.25)'))),
        "no_grease": FaultSpec('no_grease', 'dry rail: stick-slip squeal and more friction noise', (
            FaultParameter('squeal_ratio', 1.0, '', 'squeal peak amplitude re rolling-noise RMS at top speed (intermittent)'),
            FaultParameter('friction_gain_db', 5, 'dB', 'on the rolling noise'))),
    }

    def _characteristic_hz(self, params: Mapping[str, Any]) -> dict[str, float]:
        out = {"motor whine at top speed": params["motor_whine_hz"]}
        if params.get("fault") == "no_grease":
            out["squeal frequency"] = params["squeal_hz"]
        return out

    def _synthesise(self, params: Mapping[str, Any], *, n_samples: int, sample_rate: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, list[Event]]:
        p, n, sr = params, n_samples, sample_rate
        duration_s = n / sr
        fault = str(p.get("fault", "none"))

        roll_spec = white_spectrum(rng, n)
        standby_spec = white_spectrum(rng, n)
        irregular_knots = slow_knots(rng, n, sr, bandwidth_hz=6.0)  # speed irregularity and stick-slip: faults only
        stick_knots = slow_knots(rng, n, sr, bandwidth_hz=3.0)
        kernel_noise = rng.standard_normal(int(0.2 * sr) + 1)
        phases = rng.uniform(0, 2 * np.pi, 6)
        fault_rng = np.random.default_rng(rng.integers(2**63))

        v = speed_profile(np.arange(n) / sr, cycle_s=p["cycle_s"], dwell_fraction=p["dwell_fraction"],
                          accel_fraction=p["accel_fraction"], cycle_phase=p["cycle_phase"]).astype(np.float32)
        v_max = np.max(np.abs(speed_profile(np.linspace(0, p["cycle_s"], 4001), cycle_s=p["cycle_s"],
                                            dwell_fraction=p["dwell_fraction"],
                                            accel_fraction=p["accel_fraction"], cycle_phase=0.0)))
        nominal_speed = np.abs(v)
        nominal_speed *= np.float32(1.0 / v_max)

        f = rfft_frequencies(n, sr)
        roll_mag = tilt(f, corner_hz=p["rolling_corner_hz"], slope_db_per_octave=p["rolling_slope_db_per_octave"]) \
            * highpass(f, cutoff_hz=40.0) * resonance_boost(f, centre_hz=p["carriage_mode_hz"], q=3.0, gain_db=6.0)
        roll_mag /= np.sqrt(np.mean(roll_mag**2))
        standby_mag = tilt(f, corner_hz=p["standby_corner_hz"], slope_db_per_octave=6.0) * highpass(f, cutoff_hz=20.0)
        standby_mag *= np.float32(db(p["standby_level_db"]) / np.sqrt(np.mean(standby_mag**2)))
        out = shape(standby_spec, standby_mag, n, overwrite=True)
        rolling = shape(roll_spec, roll_mag, n, overwrite=True)
        del f, roll_mag, standby_mag, roll_spec, standby_spec
        travel = cycles(nominal_speed, n, sr)  # seconds of travel at top speed: screw and motor turn with it
        modulate(rolling, sine(travel * p["screw_hz"]), 0.25)  # rolling noise at top speed
        out += rolling * nominal_speed

        k = harmonic_count(p["motor_whine_hz"], sr, 3)
        whine = harmonics(travel * p["motor_whine_hz"], [1.0, 0.5, 0.25][:k], phases[:k])
        whine *= np.float32(db(p["whine_level_db"]) * np.sqrt(2 / 1.3125))
        whine *= np.minimum(np.float32(1.0), np.float32(3.0) * nominal_speed)
        out += whine
        del travel, whine
        hum = harmonics(cycles(2 * p["mains_hz"], n, sr), [1.0, 0.3], phases[3:5])
        hum *= np.float32(db(p["hum_level_db"]) * 1.35)
        out += hum

        # end stops: the carriage arrives at an end when the nominal speed falls to zero
        moving = nominal_speed > 0
        arrivals = np.flatnonzero(moving[:-1] & ~moving[1:]) / sr
        kernel = impact_kernel(kernel_noise, sr, modes_hz=[p["carriage_mode_hz"], 2.3 * p["carriage_mode_hz"],
                                                         3.9 * p["carriage_mode_hz"]], decay_s=0.006)
        click_amp = db(p["stop_click_level_db"])
        out += impacts(n, arrivals, click_amp, kernel, sr)
        if fault == "none":
            return out, None, []

        events: list[Event] = []
        if fault == "rail_damage":
            # position along the stroke (0..1): where the carriage is at t = 0, then integrate
            t_before = np.arange(int(round(p["cycle_phase"] * p["cycle_s"] * sr))) / sr
            x0 = np.sum(speed_profile(t_before, cycle_s=p["cycle_s"], dwell_fraction=p["dwell_fraction"],
                                      accel_fraction=p["accel_fraction"], cycle_phase=0.0)) / sr
            rel = x0 + np.cumsum(v, dtype=np.float64) / sr
            crossing = np.flatnonzero(np.diff(np.sign(rel - p["damage_position"])) != 0)
            amps = click_amp * p["damage_click_ratio"] * (0.4 + 0.6 * nominal_speed[crossing])
            part = impacts(n, crossing / sr, amps, kernel, sr)
            tail_s = kernel.size / sr
            events = [Event(onset_s=float(max(0.0, c / sr - 0.002)), offset_s=float(min(duration_s, c / sr + tail_s)),
                            fault=fault) for c in crossing]
        elif fault == "loose_belt":
            # the carriage speed changes by nominal * (max(0, 1 + irregularity * irregular) - 1)
            change = smooth(irregular_knots, n, scale=p["speed_irregularity"])
            np.maximum(change, np.float32(-1.0), out=change)
            change *= nominal_speed
            part = rolling * change
            times, marks = nested_poisson(fault_rng, max_rate_hz=MAX_RATTLE_RATE_HZ, duration_s=duration_s)
            amplitude = fault_rng.lognormal(0.0, 0.25, times.size)
            idx = np.minimum((times * sr).astype(int), n - 1)
            accelerating = (nominal_speed[idx] > 0) & (nominal_speed[idx] < 0.98)
            keep = accelerating & (marks < p["rattle_rate_hz"] / MAX_RATTLE_RATE_HZ)
            rattle_kernel = impact_kernel(kernel_noise[::-1], sr, modes_hz=[1.7 * p["carriage_mode_hz"]],
                                          decay_s=0.002, modal_weight=0.3)
            part += impacts(n, times[keep], amplitude[keep] * click_amp * p["rattle_ratio"], rattle_kernel, sr)
        else:  # no_grease: more friction noise and squeal
            part = rolling * nominal_speed
            part *= np.float32(db(p["friction_gain_db"]) - 1.0)
            # the squeal locks to a structural mode: nearly steady
            squeal_hz = smooth(irregular_knots, n, scale=0.003 * p["squeal_hz"], offset=p["squeal_hz"])
            squeal = sine(cycles(squeal_hz, n, sr), phases[5])
            stuck = smooth(stick_knots, n, offset=0.3)
            gate = moving_average_gate(np.maximum(stuck, np.float32(0.0), out=stuck), sr, smooth_s=0.01)
            gate *= np.float32(p["squeal_ratio"] / max(np.max(gate), 1e-12))
            gate *= nominal_speed
            squeal *= gate
            part += squeal
        return out, part, events


SLIDER = Slider()
