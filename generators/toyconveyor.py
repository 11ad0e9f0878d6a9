"""Toy conveyor sound (ToyADMOS ``ToyConveyor``): a belt on pulleys driven by a small DC
motor through a gear train.

Normal sound: motor tone at ``motor_rpm / 60`` and the pinion mesh
``f_mesh = pinion_teeth * motor_rpm / 60``; belt rolling noise over the pulleys (low and mid
frequencies) rippled at the drive-pulley rate; a faint tick each time the belt seam passes a
pulley (``pulleys`` per belt cycle of ``belt_cycle_s``); motor brush noise.

Faults (severity s in [0, 1]; s = 0 renders the normal conveyor):

- ``excessive_tension``: over-tight belt: more friction, slower motor, louder rolling and mesh;
- ``attached_object``: an object stuck on the belt bumps once per belt cycle as it passes over
  the drive pulley (time-localised events);
- ``removed_pulley``: a missing idler: the belt sags and flaps (irregular low-frequency slaps)
  and flapping noise.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from generators.base import Event
from generators.sound_common import (AudioMachine, Nuisance, bandpass, crossings, cycles, db, fault_spec,
                                     harmonic_count, harmonics, highpass, impact_kernel, impacts, level_rms_nuisance,
                                     modulate, nested_poisson, resonance_boost, rfft_frequencies, shape, sine,
                                     slow_knots, smooth, tilt, white_spectrum)

#: Highest belt-slap rate (removed pulley at severity 1), per second.
MAX_SLAP_RATE_HZ = 25.0


class ToyConveyor(AudioMachine):
    """Toy belt conveyor (see module docstring)."""

    name = "toyconveyor"
    nuisance = (
        Nuisance("motor_rpm", 3000.0, 9000.0, "motor speed, rpm"),
        Nuisance("pinion_teeth", 8, 14, "motor pinion teeth", integer=True),
        Nuisance("mesh_level_db", -18.0, -4.0, "gear-mesh tone level re rolling noise, dB"),
        Nuisance("motor_tone_level_db", -35.0, -20.0, "motor 1x tone level re rolling noise, dB"),
        Nuisance("brush_level_db", -25.0, -12.0, "motor brush-noise level re rolling noise, dB"),
        Nuisance("belt_cycle_s", 1.0, 2.5, "time for the belt to go round once, s"),
        Nuisance("pulley_turns_per_cycle", 4.0, 12.0, "drive-pulley revolutions per belt cycle"),
        Nuisance("pulleys", 2, 5, "pulleys the belt runs over (drive pulley included)", integer=True),
        Nuisance("rolling_corner_hz", 2000.0, 4000.0, "upper corner of the belt rolling-noise spectrum, Hz", log=True),
        Nuisance("rolling_slope_db_per_octave", 1.5, 3.5, "rolling-noise slope below the upper corner, dB/octave"),
        Nuisance("frame_resonance_hz", 220.0, 450.0, "conveyor frame resonance, Hz", log=True),
        Nuisance("frame_resonance_gain_db", 6.0, 14.0, "frame resonance boost of the rolling noise, dB"),
        Nuisance("seam_tick_level_db", -10.0, 3.0, "belt-seam tick peak re rolling-noise RMS, dB"),
        Nuisance("speed_jitter", 0.0005, 0.005, "relative slow fluctuation of the motor speed (std)"),
        Nuisance("rolling_fluctuation", 0.15, 0.4, "slow fluctuation of the rolling-noise level, neper (std)"),
        Nuisance("object_position", 0.0, 1.0, "where along the belt an attached object sits (0..1)"),
        Nuisance("belt_span_hz", 15.0, 60.0, "transverse natural frequency of a sagging belt span, Hz"),
        level_rms_nuisance(),
    )
    faults = {
        "excessive_tension": fault_spec(
            "excessive_tension", "over-tight belt: more friction and load",
            "speed_change_fraction: -0.1*severity",
            "rolling_gain_db: 4*severity dB",
            "mesh_gain_db: 3*severity dB"),
        "attached_object": fault_spec(
            "attached_object", "an object stuck to the belt bumps once per belt cycle at the drive pulley",
            "bump_ratio: 4*severity, bump peak re rolling-noise RMS",
            time_localised=True),
        "removed_pulley": fault_spec(
            "removed_pulley", "a missing idler: the belt sags, flaps and slaps the frame",
            f"slap_rate_hz: {MAX_SLAP_RATE_HZ:g}*severity belt slaps per second (Poisson)",
            "slap_ratio: 2*severity, slap peak re rolling-noise RMS",
            "flap_ratio: 0.5*severity, flapping-noise RMS (band around 4 x belt_span_hz) re rolling-noise RMS"),
    }

    def _fault_parameters(self, fault: str, severity: float) -> dict[str, float]:
        s = severity
        if fault == "excessive_tension":
            return {"speed_change_fraction": -0.1 * s, "rolling_gain_db": 4.0 * s, "mesh_gain_db": 3.0 * s}
        if fault == "attached_object":
            return {"bump_ratio": 4.0 * s}
        return {"slap_rate_hz": MAX_SLAP_RATE_HZ * s, "slap_ratio": 2.0 * s, "flap_ratio": 0.5 * s}

    def _characteristic_hz(self, params: Mapping[str, Any]) -> dict[str, float]:
        return {"gear-mesh frequency": params["pinion_teeth"] * params["motor_rpm"] / 60 * 1.02}

    def _synthesise(self, params: Mapping[str, Any], *, n_samples: int, sample_rate: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, list[Event]]:
        p, n, sr = params, n_samples, sample_rate
        duration_s = n / sr
        fault = str(p.get("fault", "none"))

        roll_spec = white_spectrum(rng, n)
        brush_spec = white_spectrum(rng, n)
        drift = slow_knots(rng, n, sr, bandwidth_hz=0.5)
        wobble_knots = slow_knots(rng, n, sr, bandwidth_hz=max(p["belt_span_hz"] / 4, 1.0))  # removed pulley only
        fluct = slow_knots(rng, n, sr, bandwidth_hz=2.0)
        phases = rng.uniform(0, 2 * np.pi, 8)  # 0: ripple, 1: motor, 2..7: mesh
        kernel_noise = rng.standard_normal(int(0.3 * sr) + 1)
        belt_start = rng.random()  # belt position at t = 0 (fraction of a cycle)
        fault_rng = np.random.default_rng(rng.integers(2**63))

        f = rfft_frequencies(n, sr)
        # broadband from ~200 Hz, gently falling, rolled off above rolling_corner_hz; frame resonance
        roll_mag = tilt(f, corner_hz=200.0, slope_db_per_octave=p["rolling_slope_db_per_octave"]) \
            * tilt(f, corner_hz=p["rolling_corner_hz"], slope_db_per_octave=12.0) \
            * highpass(f, cutoff_hz=220.0, order=4) \
            * resonance_boost(f, centre_hz=p["frame_resonance_hz"], q=2.0, gain_db=p["frame_resonance_gain_db"])
        roll_mag /= np.sqrt(np.mean(roll_mag**2))
        rolling = shape(roll_spec, roll_mag, n, overwrite=True)
        level = smooth(fluct, n, scale=p["rolling_fluctuation"], offset=-p["rolling_fluctuation"] ** 2)
        rolling *= np.exp(level, out=level)  # log-normal level
        brush_mag = tilt(f, corner_hz=2000.0, slope_db_per_octave=6.0) * highpass(f, cutoff_hz=300.0)
        brush_mag *= np.float32(db(p["brush_level_db"]) / np.sqrt(np.mean(brush_mag**2)))
        out = shape(brush_spec, brush_mag, n, overwrite=True)
        del roll_spec, brush_spec, roll_mag, brush_mag, level
        tick_kernel = impact_kernel(kernel_noise, sr, modes_hz=[2.0 * p["frame_resonance_hz"],
                                                              4.7 * p["frame_resonance_hz"]], decay_s=0.004)
        # seconds of running at nominal speed, the speed drift integrated: motor and belt turn with it
        run_s = cycles(smooth(drift, n, scale=p["speed_jitter"], offset=1.0), n, sr)
        normal, belt_cyc = self._sound(p, run_s, rolling, phases, belt_start, tick_kernel, faulty=False, n=n, sr=sr)
        out += normal
        if fault == "none":
            return out, None, []
        if fault == "excessive_tension":
            del belt_cyc
            faulty, _ = self._sound(p, run_s, rolling, phases, belt_start, tick_kernel, faulty=True, n=n, sr=sr)
            faulty -= normal
            return out, faulty, []

        events: list[Event] = []
        if fault == "attached_object":
            bumps = crossings(belt_cyc, offset=-p["object_position"])
            kernel = impact_kernel(kernel_noise[::-1], sr, modes_hz=[p["frame_resonance_hz"],
                                                                   2.4 * p["frame_resonance_hz"]],
                                   decay_s=0.02, burst_decay_s=0.002, modal_weight=1.0)
            part = impacts(n, bumps / sr, p["bump_ratio"], kernel, sr)
            events = [Event(onset_s=float(max(0.0, b / sr - 0.002)),
                            offset_s=float(min(duration_s, b / sr + kernel.size / sr)), fault=fault) for b in bumps]
        else:  # removed_pulley
            times, marks = nested_poisson(fault_rng, max_rate_hz=MAX_SLAP_RATE_HZ, duration_s=duration_s)
            amplitude = fault_rng.lognormal(0.0, 0.4, times.size)
            keep = marks < p["slap_rate_hz"] / MAX_SLAP_RATE_HZ
            slap_kernel = impact_kernel(kernel_noise, sr, modes_hz=[p["belt_span_hz"] * 4, p["frame_resonance_hz"]],
                                        decay_s=0.015, burst_decay_s=0.003, modal_weight=1.0)
            part = impacts(n, times[keep], amplitude[keep] * p["slap_ratio"], slap_kernel, sr)
            flap_mag = bandpass(f, centre_hz=4 * p["belt_span_hz"], q=1.0)
            flap_mag *= np.float32(p["flap_ratio"] / np.sqrt(np.mean(flap_mag**2)))
            flap = shape(white_spectrum(fault_rng, n), flap_mag, n, overwrite=True)
            flap *= smooth(wobble_knots, n, scale=0.5, offset=1.0)
            part += flap
        return out, part, events

    def _sound(self, p: Mapping[str, Any], run_s: np.ndarray, rolling: np.ndarray, phases: np.ndarray,
               belt_start: float, tick_kernel: np.ndarray, *, faulty: bool, n: int,
               sr: int) -> tuple[np.ndarray, np.ndarray]:
        """Conveyor without the brush noise (float32), loaded by the fault if ``faulty``; and the belt cycles."""
        g = (lambda key: float(p.get(key, 0.0))) if faulty else (lambda key: 0.0)
        speed_change = 1.0 + g("speed_change_fraction")
        motor_cyc = run_s * (speed_change * p["motor_rpm"] / 60)
        belt_cyc = run_s * (speed_change / p["belt_cycle_s"])
        belt_cyc += belt_start

        out = modulate(rolling * np.float32(db(g("rolling_gain_db"))),
                       sine(belt_cyc * p["pulley_turns_per_cycle"], phases[0]), 0.15)
        motor_level = db(p["motor_tone_level_db"]) * np.sqrt(2 / 1.25)
        k = harmonic_count(p["pinion_teeth"] * p["motor_rpm"] / 60 * 1.02, sr, 6)
        mesh_amps = [db(-6.0 * i) for i in range(k)]
        mesh_gain = db(p["mesh_level_db"] + g("mesh_gain_db")) / max(np.sqrt(np.sum(np.square(mesh_amps)) / 2), 1e-12)
        # motor 1x / 2x tones and the mesh harmonics, all orders of the motor rotation
        out += harmonics(motor_cyc, [motor_level, 0.5 * motor_level] + [a * mesh_gain for a in mesh_amps],
                         [phases[1], phases[1] + 1.0, *phases[2:2 + k]],
                         orders=[1, 2] + [p["pinion_teeth"] * (i + 1) for i in range(k)])

        # the belt seam passes a pulley each time belt_cyc * pulleys crosses a whole number
        ticks = crossings(belt_cyc, scale=p["pulleys"])
        out += impacts(n, ticks / sr, db(p["seam_tick_level_db"]), tick_kernel, sr)
        return out, belt_cyc


TOYCONVEYOR = ToyConveyor()
