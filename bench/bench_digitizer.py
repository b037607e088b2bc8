"""(d) Converter characterization throughput, and behavioural vs SPICE codes of the same instances.

Throughput: conversions characterized per second by ``characterize_sar`` (3-bit SA on the MOM DAC and
the 3-bit hybrid, ptm16hp 0.7 V, input step LSB / 4 = 32 conversions per transfer curve), nominal only
and nominal + Monte Carlo (the samples of one deck batched in one ngspice session with ``alter``), one
worker, cache off. A conversion = one sample phase + the bit cycles of one input level; counted: the sweep
(in-range levels and the margin beyond the range) x (1 + MC instances) + the 32 fit-check conversions.

Agreement: for every Monte Carlo instance s of that LUT (and the nominal one), ``--inputs`` random
input voltages are converted (a) in SPICE by the same instance (the same delvto draws, seed and sample
index as the LUT), (b) by the behavioural decision procedure on instance s's transitions from the LUT
(:func:`charz.blocks.adc.model_transfer.decide`). Reported: the fraction within +-1 LSB and the fraction
exact. Goal (issue): >= 99 % within +-1 LSB.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import machine  # noqa: E402

from charz.core import pdk as P  # noqa: E402
from charz.blocks.adc.model_transfer import decide  # noqa: E402
from charz.blocks.adc.recipe import characterize_sar, measure  # noqa: E402
from charz.core.mc import Mismatch, draw  # noqa: E402
from charz.blocks.adc.netlist import SarParams  # noqa: E402
from charz.blocks.adc.netlist_deck import ramp_netlist, sar_devices  # noqa: E402
from charz.sim.executor import make_executor  # noqa: E402
from charz.sim.runner import SimJob, execute  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mc", type=int, default=6)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--inputs", type=int, default=64)
    a = ap.parse_args()
    print(machine())
    pdk = P.get("ptm16hp")
    rows, agree = [], []
    for label, kw in (("3-bit SAR (MOM DAC)", {}), ("3-bit hybrid (1 flash + 2 SA bits)", {"flash_bits": 1})):
        p = SarParams(pdk="ptm16hp", bits=3, **kw)
        for mc in (0, a.mc):
            ex = make_executor(workers=1)
            t0 = time.perf_counter()
            lut = characterize_sar(pdk, bits=3, kind="sar", mc=mc, seed=a.seed, executor=ex, use_cache=False,
                                   progress=False, steps_per_lsb=4, **kw)
            wall = time.perf_counter() - t0
            ex.close()
            sweep = lut.provenance["checks"]["sweep"]["levels"]  # in-range levels + the margin beyond the range
            n_conv = sweep * (1 + mc) + lut.fit_quality["codes_random_order"]["points"]
            rows.append((label, "nominal" if mc == 0 else f"nominal + {mc} MC", n_conv, wall, n_conv / wall,
                         lut.provenance["analysis_seconds"]))
        # agreement, the same instances
        rng = np.random.default_rng(a.seed + 100)
        v = rng.uniform(p.vref_lo, p.vref_hi, a.inputs)
        d = draw(Mismatch(pdk.avt_mv_um), sar_devices(p, pdk), a.mc, a.seed)
        nom = execute(SimJob(ramp_netlist(p, v, pdk), (), "bench", 600)).runs[0]
        mcr = execute(SimJob(ramp_netlist(p, v, pdk), d.samples(0, a.mc), "bench", 1200)).runs
        fb = kw.get("flash_bits")
        t_nom = lut.tables["transition"][0, 0]
        t_mc = lut.samples["transition"][0, 0]  # (edges, instances)
        for s, run in [(-1, nom)] + list(enumerate(mcr)):
            t = t_nom if s < 0 else t_mc[:, s]
            spice = measure(run, p, v)["codes"]
            beh = decide(v[None, :], t[None, :], lut.block, 3, fb)[0]
            agree.append((label, "nominal" if s < 0 else f"MC {s}", np.mean(np.abs(spice - beh) <= 1),
                          np.mean(spice == beh)))
    print(f"\n{'converter':<36}{'run':<18}{'conversions':>12}{'wall s':>9}{'conv/s':>9}{'ngspice s':>11}")
    for r in rows:
        print(f"{r[0]:<36}{r[1]:<18}{r[2]:>12}{r[3]:>9.1f}{r[4]:>9.2f}{r[5]:>11.1f}")
    print(f"\nbehavioural vs SPICE codes, {a.inputs} random inputs per instance")
    print(f"{'converter':<36}{'instance':<10}{'within +-1 LSB':>16}{'exact':>8}")
    for r in agree:
        print(f"{r[0]:<36}{r[1]:<10}{100 * r[2]:>15.1f}%{100 * r[3]:>7.1f}%")
    tot = np.mean([r[2] for r in agree])
    print(f"all instances: {100 * tot:.1f} % within +-1 LSB, {100 * np.mean([r[3] for r in agree]):.1f} % exact "
          f"(goal >= 99 % within +-1 LSB: {'met' if tot >= 0.99 else 'NOT met'})")


if __name__ == "__main__":
    main()
