"""``charz pdk list`` (the manifest's cards and where they were found) and ``charz pdk verify`` (inverter
delay, on / off currents and thresholds against the reference figures)."""

from __future__ import annotations

import sys

from .common import executor, sim_options


def add_parser(sub) -> None:
    """Add ``pdk`` (``list``, ``verify``) to the sub-command parsers *sub*."""
    p = sub.add_parser("pdk", help="list or verify the PTM model cards",
                       description="`pdk list`: the manifest and where each card was found. `pdk verify`: simulate "
                                   "an inverter and Id-Vgs per card and compare with SOURCES.md.")
    ps = p.add_subparsers(dest="pdk_cmd", required=True)
    ps.add_parser("list", help="manifest and card locations",
                  description="One line per PTM card of pdk_models/manifest.toml: node, flavour, nominal VDD, the "
                              "assumed Pelgrom coefficient A_VT (mV*um; override with --avt or CHARZ_AVT) and where "
                              "the card was found on the search path (or MISSING).")
    pv = ps.add_parser("verify", help="simulate inverter tpd, Ion, Ioff, Vth per card")
    pv.add_argument("--pdk", action="append", help="card to verify (repeatable; default all)")
    sim_options(pv)
    p.set_defaults(func=cmd_pdk)


def print_failures(failures) -> None:
    """The failed simulations of a run (at most ten) on stderr, after a line saying the rest is kept."""
    if failures:
        print(f"\n{len(failures)} simulation(s) failed and were left out (NaN in the tables); the rest is kept:",
              file=sys.stderr)
        for f in failures[:10]:
            print("  - " + f.message(), file=sys.stderr)


def cmd_pdk(args) -> int:
    """``charz pdk list`` (the manifest's PDKs, their cards and A_VT) or ``charz pdk verify`` (inverter delay,
    on / off currents and thresholds against the reference figures). Returns 0, or 4 when a run failed or a
    figure deviates more than 2 % from its reference."""
    from ..core import pdk

    if args.pdk_cmd == "list":
        print(f"{'name':<11} {'node':>5} {'flavour':<10} {'VDD':>5} {'A_VT':>7}  card")
        for name in pdk.names():
            d = pdk.describe(name)
            path, _ = pdk.find_card(d)
            print(f"{name:<11} {d.node_nm:>4}n {d.flavour:<10} {d.vdd_nom:>5.2f} {d.avt_mv_um:>7.1f}  "
                  f"{path or 'MISSING (see charz doctor)'}")
        print("A_VT in mV*um is an assumption (PTM has no mismatch data): see pdk_models/manifest.toml; "
              "override with --avt or CHARZ_AVT")
        return 0
    from ..characterize.pdk_check import verify

    names = args.pdk or pdk.names()
    pdks = [pdk.get(n) for n in names]
    rows, failures = verify(pdks, executor=executor(args), use_cache=not args.no_cache, progress=not args.quiet)
    print(f"{'pdk':<11} {'VDD':>4} {'tpd ps':>14} {'NMOS Ion uA/um':>16} {'NMOS Ioff nA/um':>17} "
          f"{'PMOS Ion':>14} {'PMOS Ioff':>15} {'Vth n/p V':>11}")
    print(f"{'':<11} {'':>4} {'ours (ref)':>14} {'ours (ref)':>16} {'ours (ref)':>17} {'ours (ref)':>14} {'ours (ref)':>15}")
    worst = 0.0
    for r in rows:
        ref = pdk.reference(r["pdk"])
        if not r["ok"]:
            print(f"{r['pdk']:<11} simulation failed")
            continue
        vals = [(r["tpd"] * 1e12, ref.get("tpd_ps")), (r["ion_n"] * 1e6, ref.get("ion_n_ua_um")),
                (r["ioff_n"] * 1e9, ref.get("ioff_n_na_um")), (r["ion_p"] * 1e6, ref.get("ion_p_ua_um")),
                (r["ioff_p"] * 1e9, ref.get("ioff_p_na_um"))]
        for ours, theirs in vals:
            if theirs:
                worst = max(worst, abs(ours / theirs - 1))
        cells = [f"{o:.4g} ({t:.4g})" for o, t in vals]
        print(f"{r['pdk']:<11} {r['vdd']:>4.2f} {cells[0]:>14} {cells[1]:>16} {cells[2]:>17} {cells[3]:>14} "
              f"{cells[4]:>15} {r['vth_n']:.3f}/{r['vth_p']:.3f}")
    print(f"reference: ../shared/pdk_models/SOURCES.md; largest deviation {100 * worst:.2f}%")
    print_failures(failures)
    if failures or worst > 0.02:
        print("verify: deviations above 2% or failed runs: check the cards with `charz doctor`", file=sys.stderr)
        return 4
    return 0
