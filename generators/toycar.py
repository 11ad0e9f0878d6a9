"""Toy car sound (ToyADMOS / DCASE ``ToyCar``): a DC motor driving the wheels through gears,
running on a roller.

Normal sound: the motor turns at ``motor_rpm``; its commutator makes a tone at
``2 * commutator_segments * rpm / 60`` (odd segment count) with harmonics and modulates the
broadband brush noise; the pinion (``pinion_teeth``) meshes with the spur gear
(``gear_teeth``) at ``f_mesh = pinion_teeth * rpm / 60``; the wheels roll on the roller
(low-frequency rolling noise, rippled at the wheel rate). The motor spins up at ``spin_up_s``
and coasts down ``spin_down_s`` before the end of the clip, as in the recordings.

Faults (severity s in [0, 1]; s = 0 renders the normal car):

- ``bent_shaft``: the gear (wheel-axle) shaft runs out: once-per-revolution modulation of
  mesh and rolling noise and a wobble thump;
- ``deformed_gear``: one deformed tooth on the spur gear: an impact and a mesh disturbance once
  per gear revolution;
- ``excessive_tension``: over-tight drive: the motor slows under load, brushes and bearings
  get noisier;
- ``voltage_change``: supply voltage off nominal: the motor runs at another speed.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from generators.base import Event, FaultSpec
from generators.parameters import FaultParameter, Parameter
from generators.sound_dsp import (crossings, cycle_fraction, cycles, db, harmonic_count, harmonics, highpass,
                                  impact_kernel, impacts, modulate, resonance_boost, rfft_frequencies, shape,
                                  sine, slow_knots, smooth, tilt, white_spectrum)
from generators.sound_machine import AudioMachine, level_rms_parameter


def run_envelope(n_samples: int, sample_rate: int, *, spin_up_s: float, spin_down_s: float,
                 ramp_s: float = 0.3) -> np.ndarray:
    """Relative motor speed 0..1: off, ramps up at ``spin_up_s``, down ``spin_down_s`` before the end.

    The times are capped at 20 % of the clip each, so that short clips mostly run.

    Returns
    -------
    ndarray, shape (n_samples,), float32
    """
    duration_s = n_samples / sample_rate
    spin_up_s = min(spin_up_s, 0.2 * duration_s)  # short clips: keep most of the clip running
    spin_down_s = min(spin_down_s, 0.2 * duration_s)
    end = duration_s - spin_down_s
    # min(clip(up), clip(down)) == clip(min(up, down)), with up and down in ramp lengths
    t = np.arange(n_samples, dtype=np.float32)
    t *= np.float32(1.0 / (sample_rate * ramp_s))
    up = t - np.float32(spin_up_s / ramp_s)
    down = np.subtract(np.float32(end / ramp_s), t, out=t)
    np.minimum(up, down, out=up)
    np.maximum(up, np.float32(0.0), out=up)
    return np.minimum(up, np.float32(1.0), out=up)


class ToyCar(AudioMachine):
    """Toy car on a roller (see module docstring)."""

    name = "toycar"
    declarations = (
        Parameter('motor_rpm', 'motor speed at nominal voltage', 'rpm', low=7000.0, high=16000.0, level="operating", spread=0.03),
        Parameter('commutator_segments', 'commutator segments (odd)', options=(3.0, 5.0)),
        Parameter('pinion_teeth', 'motor pinion teeth', low=8, high=14, integer=True),
        Parameter('gear_teeth', 'spur gear (wheel axle) teeth', low=30, high=60, integer=True),
        Parameter('mesh_level_db', 'gear-mesh tone level re rolling noise', 'dB', low=-25.0, high=-8.0),
        Parameter('mesh_harmonic_decay_db', 'level drop per mesh harmonic', 'dB', low=3.0, high=10.0),
        Parameter('commutator_level_db', 'commutator tone level re rolling noise', 'dB', low=-20.0, high=-6.0),
        Parameter('brush_level_db', 'brush noise level re rolling noise', 'dB', low=-28.0, high=-18.0),
        Parameter('brush_corner_hz', 'corner of the brush-noise spectrum', 'Hz', low=800.0, high=2500.0, log=True),
        Parameter('rolling_corner_hz', 'corner of the rolling-noise spectrum', 'Hz', low=500.0, high=1000.0, log=True),
        Parameter('rolling_slope_db_per_octave', 'rolling-noise slope above the corner', 'dB/octave', low=9.0, high=13.0),
        Parameter('body_resonance_hz', 'car body resonance', 'Hz', low=400.0, high=800.0, log=True),
        Parameter('body_resonance_gain_db', 'car body resonance boost', 'dB', low=4.0, high=12.0),
        Parameter('speed_jitter', 'relative slow fluctuation of the motor speed (std)', low=0.002, high=0.01),
        Parameter('spin_up_s', 'time the motor starts', 's', low=0.0, high=2.0),
        Parameter('spin_down_s', 'time before the clip end the motor stops', 's', low=0.0, high=2.5),
        Parameter('standby_level_db', 'room / roller-drive floor re rolling noise', 'dB', low=-10.0, high=-3.0),
        Parameter('voltage_sign', 'direction of a voltage change: -1 low, +1 high', options=(-1.0, 1.0), level="recording"),
        level_rms_parameter(0.05, 0.1),
    )
    faults = {
        "bent_shaft": FaultSpec('bent_shaft', 'bent wheel-axle shaft: runout modulates the mesh once per axle revolution', (
            FaultParameter('runout_am_depth', 0.6, '', 'AM depth of the mesh at the axle rate rpm/60*pinion/gear Hz'),
            FaultParameter('wobble_ratio', 0.5, '', '1x axle thump amplitude re rolling noise'))),
        "deformed_gear": FaultSpec('deformed_gear', 'a deformed tooth on the spur gear: an impact once per gear revolution', (
            FaultParameter('tooth_impact_ratio', 3, '', 'impact peak re rolling-noise RMS, once per gear revolution'),
            FaultParameter('tooth_mesh_gain_db', 12, 'dB', 'on the mesh tone while the tooth meshes'))),
        "excessive_tension": FaultSpec('excessive_tension', 'over-tight drive / excess load: slower motor, noisier brushes and bearings', (
            FaultParameter('speed_change_fraction', -0.12),
            FaultParameter('brush_gain_db', 8, 'dB'),
            FaultParameter('rolling_gain_db', 6, 'dB'))),
        "voltage_change": FaultSpec('voltage_change', 'supply voltage off nominal: the motor runs at another speed', (
            FaultParameter('speed_change_fraction', 0.25, '', 'all tones scale by 1 + it; broadband noise amplitude by (1 + it)**2', signed_by="voltage_sign"),)),
    }

    def _characteristic_hz(self, params: Mapping[str, Any]) -> dict[str, float]:
        speed = (1.0 + max(0.0, float(params.get("speed_change_fraction", 0.0)))) * (1 + 3 * params["speed_jitter"])
        shaft = params["motor_rpm"] / 60 * speed
        return {"gear-mesh frequency": params["pinion_teeth"] * shaft,
                "commutator frequency": 2 * params["commutator_segments"] * shaft}

    def _synthesise(self, params: Mapping[str, Any], *, n_samples: int, sample_rate: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, list[Event]]:
        p, n, sr = params, n_samples, sample_rate
        fault = str(p.get("fault", "none"))

        roll_spec = white_spectrum(rng, n)
        brush_spec = white_spectrum(rng, n)
        drift = slow_knots(rng, n, sr, bandwidth_hz=3.0)
        phases = rng.uniform(0, 2 * np.pi, 16)
        kernel_noise = rng.standard_normal(int(0.2 * sr) + 1)

        # broadband (rolling, brush) amplitude ~ speed**2; tone amplitudes are set by load, not speed
        loudness = run_envelope(n, sr, spin_up_s=p["spin_up_s"], spin_down_s=p["spin_down_s"])
        f = rfft_frequencies(n, sr)
        roll_mag = tilt(f, corner_hz=p["rolling_corner_hz"], slope_db_per_octave=p["rolling_slope_db_per_octave"]) \
            * highpass(f, cutoff_hz=150.0, order=2) \
            * resonance_boost(f, centre_hz=p["body_resonance_hz"], q=1.5, gain_db=p["body_resonance_gain_db"])
        roll_mag /= np.sqrt(np.mean(roll_mag**2))
        brush_mag = tilt(f, corner_hz=p["brush_corner_hz"], slope_db_per_octave=6.0) * highpass(f, cutoff_hz=300.0)
        brush_mag /= np.sqrt(np.mean(brush_mag**2))
        standby_mag = tilt(f, corner_hz=150.0, slope_db_per_octave=6.0) * highpass(f, cutoff_hz=20.0)
        standby_mag *= np.float32(db(p["standby_level_db"]) / np.sqrt(np.mean(standby_mag**2)))
        out = shape(roll_spec[::-1], standby_mag, n)
        # seconds of running at nominal speed (spin-up and -down, speed drift): motor cycles / nominal rate
        run = smooth(drift, n, scale=p["speed_jitter"], offset=1.0)
        run *= loudness
        noises = {"run_s": cycles(run, n, sr), "rolling": shape(roll_spec, roll_mag, n, overwrite=True),
                  "brush": shape(brush_spec, brush_mag, n, overwrite=True)}
        del roll_spec, brush_spec, f, roll_mag, brush_mag, standby_mag, run
        normal, parts = self._sound(p, noises, phases, loudness, faulty=False, n=n, sr=sr)
        out += normal
        if fault == "none":
            return out, None, []
        if fault in ("excessive_tension", "voltage_change"):  # another motor speed and load
            del parts
            faulty, _ = self._sound(p, noises, phases, loudness, faulty=True, n=n, sr=sr)
            faulty -= normal
            return out, faulty, []

        axle_cyc = parts["axle_cyc"]
        if fault == "bent_shaft":
            # runout modulates mesh and rolling noise; and a wobble thump once per axle revolution
            axle = cycle_fraction(axle_cyc)
            part = parts["rolling"] + parts["mesh"]
            part *= sine(axle, phases[12])
            part *= np.float32(p["runout_am_depth"])
            wobble = sine(axle, phases[13])
            wobble *= np.square(harmonics(axle, [1.0], [0.0], orders=[2]))
            wobble *= np.float32(p["wobble_ratio"] * np.sqrt(2))
            part += wobble
            part *= loudness
            return out, part, []
        # deformed_gear: the deformed tooth meshes during 1/gear_teeth of each gear revolution
        frac = cycle_fraction(axle_cyc)
        frac -= np.float32(0.5)
        frac *= np.float32(p["gear_teeth"] / 1.5)
        np.square(frac, out=frac)
        frac *= np.float32(-0.5)
        window = np.exp(frac, out=frac)
        window *= np.float32(db(p["tooth_mesh_gain_db"]) - 1.0)
        part = parts["mesh"] * window
        part *= loudness
        hits = crossings(axle_cyc, offset=0.5)  # the tooth at the mesh point
        kernel = impact_kernel(kernel_noise, sr, modes_hz=[p["body_resonance_hz"], 2.6 * p["body_resonance_hz"],
                                                         4.1 * p["body_resonance_hz"]], decay_s=0.008)
        part += impacts(n, hits / sr, p["tooth_impact_ratio"] * loudness[hits], kernel, sr)
        return out, part, []

    def _sound(self, p: Mapping[str, Any], noises: Mapping[str, np.ndarray], phases: np.ndarray,
               loudness: np.ndarray, *, faulty: bool, n: int, sr: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Running car (float32, without the standby floor), with the speed and load of the fault if ``faulty``.

        Also returns the parts that continuous faults modulate: ``rolling`` (times the broadband
        gain), ``mesh`` and the axle cycles ``axle_cyc``.
        """
        g = (lambda key: float(p.get(key, 0.0))) if faulty else (lambda key: 0.0)
        speed_change = 1.0 + g("speed_change_fraction")
        broadband_gain = speed_change**2

        motor_cyc = noises["run_s"] * (p["motor_rpm"] / 60 * speed_change)
        axle_cyc = motor_cyc * (p["pinion_teeth"] / p["gear_teeth"])
        motor_cyc = cycle_fraction(motor_cyc)  # only its tones are needed: the fraction once for all of them

        rolling = modulate(noises["rolling"] * np.float32(db(g("rolling_gain_db")) * broadband_gain),
                           sine(axle_cyc, phases[0]), 0.2)
        segs2 = int(2 * p["commutator_segments"])
        brush = modulate(noises["brush"] * np.float32(db(p["brush_level_db"] + g("brush_gain_db")) * broadband_gain),
                         harmonics(motor_cyc, [1.0], [0.0], orders=[segs2]), 0.5)
        brush += rolling

        top = p["motor_rpm"] / 60 * abs(speed_change) * (1 + 3 * p["speed_jitter"])
        k_c = harmonic_count(segs2 * top, sr, 4)
        comm_amps = [db(-6.0 * i) for i in range(k_c)]
        # commutator harmonics and the 1x / 2x shaft tones, all orders of the motor rotation
        comm_gain = db(p["commutator_level_db"]) / max(np.sqrt(np.sum(np.square(comm_amps)) / 2), 1e-12)
        brush += harmonics(motor_cyc, [a * comm_gain for a in comm_amps] + [db(p["commutator_level_db"] - 3.0)] * 2,
                           list(phases[1:1 + k_c]) + list(phases[5:7]),
                           orders=[segs2 * (i + 1) for i in range(k_c)] + [1, 2])
        k_m = harmonic_count(p["pinion_teeth"] * top, sr, 4)
        mesh_amps = [db(-p["mesh_harmonic_decay_db"] * i) for i in range(k_m)]
        mesh = harmonics(motor_cyc, mesh_amps, phases[7:7 + k_m],
                         orders=[p["pinion_teeth"] * (i + 1) for i in range(k_m)])
        mesh *= np.float32(db(p["mesh_level_db"]) / max(np.sqrt(np.sum(np.square(mesh_amps)) / 2), 1e-12))
        brush += mesh
        brush *= loudness
        return brush, {"rolling": rolling, "mesh": mesh, "axle_cyc": axle_cyc}


TOYCAR = ToyCar()
