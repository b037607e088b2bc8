"""`charz` command line. Every sub-command has --help; errors are one line and a non-zero exit code."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from . import __version__
from .blocks import REGISTRY
from .blocks.base import applies, given
from .core.errors import CharzError, ParameterError
from .core.grid import grid, number
from .core.lut import Kind

DEFAULT_PDK = "ptm16hp"
ON_LUT_PATH = "on the LUT search path"
"""How help texts say where a default LUT is looked for (the search path is explained in the epilog)."""


# ---------------------------------------------------------------------------------------------------
# shared options
WORKERS_PER_CPU = 4
"""--workers is at most this many times the CPU count (ngspice is CPU-bound: more only thrashes)."""
EXIT_INTERNAL = 70
"""Exit code of an unexpected exception (EX_SOFTWARE); the traceback goes to a log file."""


def max_workers() -> int:
    """The largest --workers accepted: WORKERS_PER_CPU x the CPU count."""
    return WORKERS_PER_CPU * (os.cpu_count() or 1)


def check_workers(n) -> int | None:
    """*n* local worker processes: None (one per core), 0 (run in this process) .. max_workers()."""
    if n is None:
        return None
    hi = max_workers()
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= hi:
        raise ParameterError(f"--workers {n!r} is not allowed: give 0 (run in this process) to {hi} "
                             f"({WORKERS_PER_CPU} x the {os.cpu_count() or 1} CPUs), or leave it out for one per core")
    return n


def _workers_arg(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = text
    try:
        return check_workers(n)
    except ParameterError as exc:  # argparse prefixes "argument --workers: "
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--workers ")) from None


def _sim_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("simulation")
    g.add_argument("--workers", type=_workers_arg, default=None, metavar="N",
                   help="local ngspice worker processes (default: one per core; 0 = run in this process; at most "
                        f"{WORKERS_PER_CPU} x the CPU count)")
    g.add_argument("--scheduler", default=None,
                   help="Dask scheduler address tcp://host:port (or set CHARZ_SCHEDULER) to run on a Dask cluster")
    g.add_argument("--no-cache", action="store_true", help="ignore and do not write the result cache")
    g.add_argument("--timeout", default=None, metavar="SECONDS",
                   help="time limit of one ngspice run, replacing each recipe's default (120 s for most decks, up to "
                        "3600 s for whole crossbars and scalar products); also CHARZ_TIMEOUT; recorded in the LUT")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def _executor(args):
    from .sim.executor import make_executor
    from .sim.runner import set_timeout, timeout_override

    set_timeout(None if args.timeout is None else number(args.timeout, "--timeout"))
    timeout_override()  # a malformed CHARZ_TIMEOUT is refused before anything runs
    return make_executor(check_workers(args.workers), args.scheduler)


def _pdk(args):
    from .core import pdk

    return pdk.get(args.pdk, getattr(args, "avt", None))


def _print_failures(failures) -> None:
    if failures:
        print(f"\n{len(failures)} simulation(s) failed and were left out (NaN in the tables); the rest is kept:",
              file=sys.stderr)
        for f in failures[:10]:
            print("  - " + f.message(), file=sys.stderr)


# ---------------------------------------------------------------------------------------------------
def cmd_doctor(args) -> int:
    """``charz doctor``: print what charz finds (ngspice executable, libngspice and its build, PySpice, every
    PTM card on the search path with its sha256 checked, the cache, the ngspice start-up, Dask). Returns 0
    when all is well, 3 when ngspice, libngspice or PySpice is missing, 2 when the default card or every card
    is missing or a card differs from the manifest."""
    from .core import pdk
    from .sim.cache import Cache

    problems = []  # ngspice, libngspice, PySpice: exit 3
    print(f"charz {__version__}  python {sys.version.split()[0]}")
    exe = shutil.which("ngspice")
    print(f"ngspice executable: {exe or 'NOT FOUND'}")
    if not exe:
        problems.append("ngspice is not installed: apt-get install -y ngspice libngspice0-dev (or `make setup`)")
    try:
        import PySpice

        print(f"PySpice: {PySpice.__version__}")
    except Exception as exc:  # pragma: no cover
        problems.append(f"PySpice missing ({exc}): pip install -e . (or `make setup`)")
    from .sim.engine import check_available, identity

    why = check_available()
    if why:
        problems.append(why)
        print("libngspice: NOT LOADED")
    else:
        ident = identity()
        lib = ident["library"]
        found = [str(p) for p in (Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/lib"), Path("/usr/local/lib"))
                 if (p / lib).exists()]
        print(f"libngspice: {lib} ({', '.join(found) or 'found by the dynamic loader'})")
        print(f"ngspice version: {ident['version']}")
        for b in ident["build"]:
            print(f"  build: {b}")
    print("PTM model cards (search path: " + ", ".join(str(d) for d in pdk.search_path()) + "):")
    card_problems = []  # exit 2, as the commands that would use the card (PDKError)
    n_ok = 0
    for name in pdk.names():
        d = pdk.describe(name)
        path, refused = pdk.find_card(d)
        if path:
            n_ok += 1
            print(f"  {name:<11} ok       {path}")
        else:
            print(f"  {name:<11} MISSING  {d.file} is on none of the folders")
            if name == DEFAULT_PDK:
                card_problems.append(f"the default PDK's card {d.file} ({name}) is missing: put a verified copy (sha256 "
                                     f"in pdk_models/manifest.toml) on the search path or point CHARZ_PDK_PATH at one")
        for cand, why in refused:
            print(f"  {'':<11} ALTERED  {cand}: {why}")
            card_problems.append(f"{cand} is not the manifest's {d.file} ({why}): charz refuses it; delete it or "
                                 f"replace it with a verified copy")
    if n_ok == 0:
        card_problems.append("no PTM card found: set CHARZ_PDK_PATH to a folder with verified copies "
                             "(see pdk_models/manifest.toml) or place ../shared/pdk_models beside the checkout")
    info = Cache().info()
    print(f"cache: {info['path']}  {info['entries']} entries, {info['bytes'] / 1e6:.1f} MB, "
          f"{info['failed_netlists']} saved failed netlists")
    from .sim.engine import STARTUP_COMMANDS

    print(f"ngspice start-up: charz's own spinit and .spiceinit in a private temporary folder ({'; '.join(STARTUP_COMMANDS)}); "
          f"no .spiceinit of the working directory or home and no system spinit is read")
    try:
        import dask  # noqa: F401

        print(f"dask: {dask.__version__} (distributed sweeps available)")
    except ImportError:
        print("dask: not installed (optional: pip install 'charz[dask]')")
    if problems or card_problems:
        print("\nProblems:", file=sys.stderr)
        for p in problems + card_problems:
            print(f"  - {p}", file=sys.stderr)
        return 3 if problems else 2
    print("\nall good")
    return 0


def cmd_pdk(args) -> int:
    """``charz pdk list`` (the manifest's PDKs, their cards and A_VT) or ``charz pdk verify`` (inverter delay,
    on / off currents and thresholds against the reference figures). Returns 0, or 4 when a run failed or a
    figure deviates more than 2 % from its reference."""
    from .core import pdk

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
    from .characterize.pdk_check import verify

    names = args.pdk or pdk.names()
    pdks = [pdk.get(n) for n in names]
    rows, failures = verify(pdks, executor=_executor(args), use_cache=not args.no_cache, progress=not args.quiet)
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
    _print_failures(failures)
    if failures or worst > 0.02:
        print("verify: deviations above 2% or failed runs: check the cards with `charz doctor`", file=sys.stderr)
        return 4
    return 0


def cmd_cache(args) -> int:
    """``charz cache info`` (location, entries, size) or ``charz cache clear`` (deletes charz's own files only
    and says what it deleted). Returns 0."""
    from .sim.cache import Cache

    c = Cache()
    if args.cache_cmd == "info":
        i = c.info()
        print(f"cache {i['path']}: {i['entries']} entries, {i['bytes'] / 1e6:.2f} MB, "
              f"{i['failed_netlists']} saved netlists of failed runs")
    else:
        i = c.clear()
        print(f"cleared {i['entries']} entries ({i['bytes'] / 1e6:.2f} MB), {i['parts']} unfinished writes and "
              f"{i['failed_netlists']} saved netlists of failed runs from {i['path']} (other files there are left alone)")
    return 0


def golden_netlists(pdk) -> dict[str, str]:
    """Every block's golden netlists for *pdk*: file name -> deck text."""
    return REGISTRY.golden_netlists(pdk)


def cmd_netlist(args) -> int:
    """``charz netlist``: write the golden netlists to ``--out``; with ``--check`` compare them instead and
    return 1 (naming the stale files) when any differs or is missing, else 0."""
    pdk = _pdk(args)
    files = golden_netlists(pdk)
    out = Path(args.out)
    stale = []
    for name, text in sorted(files.items()):
        path = out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
            continue
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if args.check:
        if stale:
            print(f"{len(stale)} netlist(s) in {out} differ from the generators: {', '.join(stale)}; "
                  f"run `charz netlist --pdk {pdk.name}` and commit the result", file=sys.stderr)
            return 1
        print(f"{len(files)} netlists in {out} are up to date")
    return 0


def _char_common(args):
    from .core import mc as mcmod

    if args.mc < 0:
        raise CharzError(f"--mc {args.mc}: the Monte Carlo sample count must be 0 (nominal only) or more")
    if getattr(args, "mc_limit", None) is not None:
        mcmod.set_limit(args.mc_limit)
    mcmod.check_limit(args.mc, f"--mc {args.mc}")  # before any executor or deck exists
    if args.seed < 0:
        raise CharzError(f"--seed {args.seed}: the Monte Carlo seed must be a non-negative integer")
    return dict(
        vdd=grid(args.vdd, "--vdd"), temp=grid(args.temp, "--temp"), mc=args.mc, seed=args.seed,
        executor=_executor(args), use_cache=not args.no_cache, progress=not args.quiet,
        fit_check=not args.no_fit_check,
    )


def default_lut_output(pdk_name: str, block: str) -> Path:
    """Where `charz characterize` writes without -o: out/lut/<pdk>/<block>, outside the committed lut/."""
    return Path("out") / "lut" / pdk_name / block


def cmd_characterize(args) -> int:
    """``charz characterize BLOCK``: run the block's recipe and save its LUT (refused before any simulation
    when the LUT exists and ``--force`` is not given; a LUT that appears meanwhile is kept and this one goes
    to ``NAME.1``). Returns 0, or 4 when points failed (NaN in the LUT); raises ``CharzError`` for options
    that do not apply to the block."""
    pdk = _pdk(args)
    block = REGISTRY.for_kind(args.block)
    opts = REGISTRY.options()
    values = {decls[0][1].key: getattr(args, decls[0][1].key) for decls in opts.values()}
    applies(opts, lambda fam, o: fam is block and fam.accepts(o, args.block), values, args.block,
            lambda fam, o: ", ".join(k for k in fam.kinds if fam.accepts(o, k)), block.hints)
    kw = _char_common(args)
    kw.update({o.key: values[o.key] for o in block.options if block.accepts(o, args.block) and given(values[o.key], o)})
    from .core.lut import lut_base, lut_exists, lut_files

    out = lut_base(args.output or default_lut_output(pdk.name, args.block))
    if lut_exists(out) and not args.force:  # before any simulation
        raise CharzError(f"LUT {lut_files(out)[0]} already exists: give --force to replace it or choose another -o")
    t0 = time.time()
    lut = REGISTRY.characterize(args.block, pdk, **kw)
    path = lut.save(out, if_exists="replace" if args.force else "next")
    print(lut.summary())
    jpath, npath = lut_files(path)
    print(f"\nwrote {jpath} and {npath} in {time.time() - t0:.1f} s")
    if lut_base(path) != out:
        print(f"charz: note: {lut_files(out)[0]} appeared while the sweep ran and was kept; this LUT went to "
              f"{lut_base(path)} instead (rename it, or rerun with --force to replace)", file=sys.stderr)
    failed = lut.provenance.get("failed_points") or []
    if failed:
        print(f"{len(failed)} point(s) failed and are NaN in the LUT:", file=sys.stderr)
        for f in failed[:10]:
            print(f"  - {f}", file=sys.stderr)
        return 4
    return 0


def _load_any(path):
    from .core.lut import LUT

    return LUT.load(path)


def cmd_lut(args) -> int:
    """``charz lut show PATH`` (print the LUT's summary) or ``charz lut seal PATH...`` (write each JSON's
    checksum). Returns 0."""
    if args.lut_cmd == "seal":
        from .core.lut import seal

        for path in args.paths:
            jpath, changed = seal(path)
            print(f"sealed {jpath} (json_sha256 written)" if changed else f"{jpath} is already sealed")
        return 0
    lut = _load_any(args.path)
    print(lut.summary())
    return 0


def cmd_plot(args) -> int:
    """``charz plot PATH``: write the LUT's figures into ``--out`` and print their paths. Returns 0."""
    lut = _load_any(args.path)
    from .core.lut import lut_base

    for p in REGISTRY.make_plots(lut, Path(args.out), lut_base(args.path).name):
        print(f"wrote {p}")
    return 0


def _operating_point_options(p: argparse.ArgumentParser) -> None:
    """--vdd / --temp / --t-pulse of the commands that read a LUT at one operating point."""
    p.add_argument("--vdd", help="VDD in V, on or inside the LUT grid (default: the PDK's nominal VDD if on the grid, "
                                 "else the highest; 0.8 V for --network wht and td_mac)")
    p.add_argument("--temp", help="temperature in degC (default 27, or the nearest grid value)")
    p.add_argument("--t-pulse", help="wordline / row pulse width in s (default: the LUT's best-separated grid value)")


def _sweep_scales(text: str) -> list[float]:
    """--sweep-mismatch: mismatch scales (>= 0) as a grid (a,b,c or start:stop:count)."""
    scales = grid(text, "--sweep-mismatch")
    bad = [x for x in scales if x < 0]
    if bad:
        raise ParameterError(f"--sweep-mismatch {text!r}: mismatch scales must be >= 0 (0 = none, 1 = the LUT's "
                             f"Monte Carlo), got {bad[0]:g}")
    return scales


def _eval_coords(args):
    return dict(
        vdd=number(args.vdd, "--vdd") if args.vdd else None,
        temp=number(args.temp, "--temp") if args.temp else None,
        t_pulse=number(args.t_pulse, "--t-pulse") if args.t_pulse else None,
    )


def cmd_eval_wht(args) -> int:
    """``charz eval --network wht``: the frequency-domain digits network on a ``wht_column`` LUT (default
    ``wht16`` on the LUT search path); with ``--out`` also the mismatch (and VDD) sweeps, their PNGs and
    ``wht_eval.json``. Raises ``CharzError`` for converter options (the WHT has none). Returns 0."""
    from .core.lut import LUT, find_default
    from .network import wht as nw

    path = args.lut or find_default(DEFAULT_PDK, "wht16")
    lut = LUT.load(path, block=Kind.WHT_COLUMN)
    if args.pdk:
        lut.check_pdk(_pdk(args).sha256)
    bad = [o for o, v in (("--adc-lut", args.adc_lut), ("--columns-per-adc", args.columns_per_adc),
                          ("--adc-bits", args.adc_bits)) if v is not None]
    if bad or args.adc_calibration != "none":
        raise CharzError(f"{(bad or ['--adc-calibration'])[0]} does not apply to the WHT network (no converters: "
                         f"a latch per column)")
    coords = _eval_coords(args)
    res = nw.evaluate_wht(lut, mismatch_scale=args.mismatch, chips=args.chips, seed=args.seed,
                          mode=args.mode, **coords)
    res["lut"]["path"] = str(path)
    print(nw.format_wht(res))
    if args.out:
        import json

        from .blocks.wht import plots as pw

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        scales = _sweep_scales(args.sweep_mismatch)
        sweep = nw.accuracy_vs_mismatch_wht(lut, scales=scales, chips=args.chips, seed=args.seed, mode=args.mode,
                                            **coords)
        written = [pw.plot_accuracy_vs_mismatch(sweep, out / "wht_accuracy_vs_mismatch.png"),
                   pw.plot_planes_histogram(res, out / "wht_planes_evaluated.png")]
        if lut.axis("vdd").values.size > 1 and coords.get("vdd") is None:
            vs = nw.accuracy_vs_vdd_wht(lut, chips=args.chips, seed=args.seed, mode=args.mode,
                                        **{k: v for k, v in coords.items() if k != "vdd"})
            written.append(pw.plot_accuracy_vs_vdd(vs, out / "wht_accuracy_vs_vdd.png"))
        (out / "wht_eval.json").write_text(json.dumps(res, indent=1, default=str))
        print("wrote " + ", ".join(str(p) for p in written) + f" and {out / 'wht_eval.json'}")
    return 0


def _td_luts(args) -> dict:
    """The TD-MAC LUT paths of eval / check / train (None = the <pdk>/ defaults of charz.blocks.td_mac.model on the
    LUT search path)."""
    pdk = _pdk(args).name if getattr(args, "pdk", None) else DEFAULT_PDK
    return {"delay": args.delay_lut, "tdc": args.tdc_lut, "acc": args.acc_lut, "adc": args.adc_lut, "pdk": pdk}


def _td_lut_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--delay-lut", default=None, help=f"td_delay LUT (default {DEFAULT_PDK}/td_delay4 {ON_LUT_PATH})")
    p.add_argument("--tdc-lut", default=None, help=f"td_tdc LUT (default {DEFAULT_PDK}/td_tdc {ON_LUT_PATH})")
    p.add_argument("--acc-lut", default=None, help=f"td_acc LUT (default {DEFAULT_PDK}/td_acc {ON_LUT_PATH})")


def cmd_eval_td(args) -> int:
    """``charz eval --network td_mac``: the digits MLP on the time-domain FP8 MAC composed from the td_* and
    converter LUTs; with ``--out`` also the mismatch sweep, the exponent- vs mantissa-path comparison, their
    PNGs and ``td_eval.json``. Raises ``CharzError`` for options that do not apply. Returns 0."""
    from .blocks.adc.model import DigitizerModel
    from .blocks.td_mac.model import adc_corner, circuit_from_luts, default_lut
    from .core.lut import LUT
    from .network import td_mac as nt

    if args.columns_per_adc is not None:
        raise CharzError("--columns-per-adc does not apply to --network td_mac (one converter per engine)")
    for opt in ("lut", "mode", "adc_bits"):
        if getattr(args, opt) is not None:
            raise CharzError(f"--{opt.replace('_', '-')} does not apply to --network td_mac (give --delay-lut / "
                             f"--tdc-lut / --acc-lut / --adc-lut)")
    coords = _eval_coords(args)
    if coords.get("t_pulse") is not None:
        raise CharzError("--t-pulse does not apply to --network td_mac (it has no wordline pulse)")
    luts = _td_luts(args)
    circ = circuit_from_luts(luts["delay"], luts["tdc"], luts["acc"], luts["adc"], vdd=coords["vdd"],
                             temp=coords["temp"], pdk=luts["pdk"])
    adc_path = luts["adc"] or default_lut(luts["pdk"], "adc")
    alut = LUT.load(adc_path)
    av, at, _ = adc_corner(alut, circ.source["vdd"], circ.source["temp"])
    conv = DigitizerModel.from_lut(alut, vdd=av, temp=at, calibration=args.adc_calibration)
    kw = dict(adc=conv, window=circ.tdc_thr.size, length=args.length)
    chips = nt.make_chips(circ, chips=args.chips, seed=args.seed, exp_mismatch=args.mismatch,
                          man_mismatch=args.mismatch, **kw)
    res = nt.evaluate_td(chips)
    print(nt.format_td(res))
    if args.out:
        import json

        from .blocks.td_mac import plots as pt

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        scales = _sweep_scales(args.sweep_mismatch)
        sweep = nt.accuracy_vs_mismatch_td(circ, scales=scales, chips=args.chips, seed=args.seed, **kw)
        print(nt.format_mismatch_td(sweep))
        from .blocks.td_mac.model import compare_paths, format_paths

        paths = compare_paths(circ, scales=[0.0] + [x for x in scales if x > 0], adc=conv, length=args.length,
                              seed=args.seed)
        print(format_paths(paths))
        written = [pt.plot_energy_breakdown(res, out / "td_energy_breakdown.png"),
                   pt.plot_accuracy_vs_mismatch(sweep, out / "td_accuracy_vs_mismatch.png"),
                   pt.plot_sensitivity(paths, out / "td_sensitivity.png")]
        (out / "td_eval.json").write_text(json.dumps({"eval": res, "mismatch": sweep, "paths": paths}, indent=1,
                                                     default=str))
        print("wrote " + ", ".join(str(p) for p in written) + f" and {out / 'td_eval.json'}")
    return 0


def cmd_check_td(args) -> int:
    """``charz check td_mac``: whole scalar products in ngspice against the composed TD-MAC model (nominal
    only), printed and optionally written as JSON. Returns 4 when decks failed, else 0."""
    from .blocks.td_mac.check import check_td_mac, format_check

    if args.mc:
        raise CharzError("check td_mac is nominal only (--mc applies to check wht)")
    coords = _eval_coords(args)
    if coords.get("t_pulse") is not None:
        raise CharzError("--t-pulse applies to check wht only")
    res = check_td_mac(**_td_luts(args), vdd=coords["vdd"], temp=coords["temp"], length=args.length,
                       vectors=args.vectors, seed=args.seed, executor=_executor(args), use_cache=not args.no_cache,
                       progress=not args.quiet)
    print(format_check(res))
    if args.json:
        import json

        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1, default=str))
        print(f"wrote {args.json}")
    return 4 if res["failures"] else 0


def cmd_check(args) -> int:
    """``charz check wht`` (a whole crossbar in ngspice against the behavioral layer fed by the LUT,
    optionally with Monte Carlo instances) or ``charz check td_mac``. Returns 4 when decks failed, else 0."""
    from .blocks.wht.check import check_against_spice, format_check
    from .core.lut import LUT, find_default

    if args.what == "td_mac":
        return cmd_check_td(args)
    lut = LUT.load(args.lut or find_default(DEFAULT_PDK, "wht16"), block=Kind.WHT_COLUMN)
    coords = _eval_coords(args)
    res = check_against_spice(lut, vectors=args.vectors, bits=args.bits, seed=args.seed, mc=args.mc,
                              executor=_executor(args), use_cache=not args.no_cache, progress=not args.quiet,
                              **coords)
    print(format_check(res))
    if args.json:
        import json

        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1, default=str))
        print(f"wrote {args.json}")
    if res["failures"]:
        return 4
    return 0


def cmd_eval(args) -> int:
    """``charz eval``: the digits MLP on a ``cim_column`` LUT (default ``cim_column`` on the LUT search path),
    read out by the ideal quantizer or a converter LUT; ``--network wht`` / ``td_mac`` go to their own
    commands. With ``--out`` also the mismatch sweep and the energy breakdown as PNGs. Raises ``CharzError``
    for a LUT of another block or options that do not apply. Returns 0."""
    from .core.lut import LUT, find_default
    from .network import evaluate as ev

    _sweep_scales(args.sweep_mismatch)  # a bad value fails now, not after the evaluation
    if args.network == "wht":
        return cmd_eval_wht(args)
    if args.network == "td_mac":
        return cmd_eval_td(args)
    path = args.lut or find_default(DEFAULT_PDK, "cim_column")
    lut = LUT.load(path)
    if lut.block == Kind.WHT_COLUMN:
        raise CharzError(f"{path} is a wht_column LUT: evaluate the WHT network with `charz eval --network wht`")
    if args.mode is not None:
        raise CharzError("--mode applies to --network wht only")
    if lut.block != Kind.CIM_COLUMN:
        raise CharzError(f"{path} is a '{lut.block}' LUT; `charz eval` needs a cim_column LUT")
    if args.pdk:
        lut.check_pdk(_pdk(args).sha256)
    coords = _eval_coords(args)
    if args.adc_lut is not None:
        coords.update(adc_lut=args.adc_lut, columns_per_adc=args.columns_per_adc, adc_calibration=args.adc_calibration)
    elif args.columns_per_adc is not None or args.adc_calibration != "none":
        raise CharzError("--columns-per-adc and --adc-calibration need --adc-lut (the ideal quantizer has no converters)")
    res = ev.evaluate(lut, adc_bits=args.adc_bits, mismatch_scale=args.mismatch, chips=args.chips,
                      seed=args.seed, **coords)
    print(ev.format_result(res))
    if args.out:
        from .plot import network as pn

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        scales = _sweep_scales(args.sweep_mismatch)
        sweep = ev.accuracy_vs_mismatch(lut, scales=scales, adc_bits=args.adc_bits, chips=args.chips,
                                        seed=args.seed, **coords)
        pn.plot_accuracy_vs_mismatch(sweep, out / "accuracy_vs_mismatch.png")
        pn.plot_energy_breakdown(res, out / "energy_breakdown.png")
        print(f"wrote {out / 'accuracy_vs_mismatch.png'} and {out / 'energy_breakdown.png'}")
    return 0


def cmd_report(args) -> int:
    """``charz report digitizers``: the converter table, ratios, figures and (unless ``--no-network``) the
    network read out by every converter LUT, written to ``--out`` from LUTs only. Returns 0."""
    from . import report

    if args.what != "digitizers":  # argparse restricts the choice; kept for a clear message if more are added
        raise CharzError(f"unknown report {args.what!r}")
    pdk = _pdk(args)
    res = report.digitizers(pdk.name, bits=args.bits, lut_dir=args.lut_dir, out=args.out, network=not args.no_network,
                            chips=args.chips)
    print(f"wrote {args.out}/digitizers.md, digitizers.json" + (", network.md" if not args.no_network else "")
          + " and " + ", ".join(Path(p).name for p in res["pngs"]))
    return 0


def cmd_demo(args) -> int:
    """``charz demo``: the whole flow on one PDK (:func:`charz.demo.run_demo`); returns its exit code."""
    from .demo import run_demo

    return run_demo(args)


def cmd_train_td(args) -> int:
    """``charz train --network td_mac``: train the digits MLP with every product on the TD-MAC from the LUTs
    (or exact FP8 with ``--ideal``) beside FP32 from the same init; writes ``td_training.png`` and
    ``td_training.json`` to ``--out`` (default ``out/td_train``). Returns 0."""
    import json

    from .blocks.td_mac.model import model_from_luts
    from .network import td_mac as nt
    from .blocks.td_mac import plots as pt

    luts = _td_luts(args)
    model = "fp8" if args.ideal else model_from_luts(luts["delay"], luts["tdc"], luts["acc"], luts["adc"],
                                                        pdk=luts["pdk"], length=args.length, seed=args.seed)
    t0 = time.time()
    cmp = nt.compare_training(model, epochs=args.epochs or nt.DEFAULT_EPOCHS, seed=args.seed)
    print(nt.format_training(cmp))
    out = Path(args.out or "out/td_train")
    out.mkdir(parents=True, exist_ok=True)
    png = pt.plot_training(cmp, out / "td_training.png")
    (out / "td_training.json").write_text(json.dumps(cmp, indent=1, default=str))
    print(f"trained FP32 and {'exact FP8' if args.ideal else 'the TD-MAC (FP8)'} in {time.time() - t0:.1f} s; "
          f"wrote {png} and {out / 'td_training.json'}")
    return 0


def cmd_train(args) -> int:
    """``charz train``: re-train the digits MLP (default), the WHT network (``--network wht``: the shipped
    recipe, hardware-aware on its LUT unless ``--ideal``) or the TD-MAC comparison (``--network td_mac``), and
    save the weights (``--output``, default the shipped file). Raises ``CharzError`` for options of another
    network. Returns 0."""
    from .network import mlp

    if args.network == "td_mac":
        return cmd_train_td(args)
    if args.epochs is not None or args.out is not None:
        raise CharzError("--epochs and --out apply to --network td_mac only")

    if args.network == "wht":
        from .core.lut import LUT, find_default
        from .network import wht as nw

        recipe = dict(nw.load_shipped_wht().meta.get("recipe") or {})
        lut_path = args.lut or recipe.get("lut")
        recipe.update(seed=args.seed)
        parts = Path(lut_path).parts if isinstance(lut_path, str) else ()
        if args.ideal:
            lut_path = None
        elif not args.lut and len(parts) == 3 and parts[0] == "lut":  # the recipe's default LUT: lut/<pdk>/<name>
            lut_path = find_default(parts[1], parts[2])
        recipe["lut"] = LUT.load(lut_path, block=Kind.WHT_COLUMN) if lut_path else None
        t0 = time.time()
        net = nw.train_digits_wht(**recipe)
        path = net.save(args.output or nw.DATA)
        print(f"trained the digits WHT network ({'hardware-aware on ' + str(lut_path) if lut_path else 'ideal crossbar'}, "
              f"seed {args.seed}) in {time.time() - t0:.1f} s; ideal test accuracy "
              f"{100 * net.meta.get('ideal_test_accuracy', float('nan')):.2f} %")
        print(f"wrote {path}")
        return 0
    if args.lut or args.ideal:
        raise CharzError("--lut and --ideal apply to --network wht only")
    model = mlp.train_digits_mlp(seed=args.seed)
    path = model.save(args.output or mlp.DATA)
    print(f"wrote {path}")
    return 0


# ---------------------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors that point at --help."""

    def error(self, message: str):  # noqa: D401
        self.exit(2, f"charz: error: {message} (see `{self.prog} --help`)\n")


def _block_options(p: argparse.ArgumentParser) -> None:
    """The options the block families declare (each flag once; its help says which blocks take it)."""
    g = p.add_argument_group("block options (each applies to the blocks named in its help)")
    for flag, decls in REGISTRY.options().items():
        texts: dict[str, list[str]] = {}
        for fam, o in decls:
            texts.setdefault(o.help, []).extend(k for k in fam.kinds if fam.accepts(o, k))
        help_text = "; ".join(f"{', '.join(kinds)}: {h}" for h, kinds in texts.items())
        g.add_argument(flag, help=help_text.replace("%", "%%"), **decls[0][1].argparse_kwargs())


def build_parser() -> argparse.ArgumentParser:
    """The ``charz`` argument parser with every sub-command and its options (errors are one line that points
    at ``--help``)."""
    ap = _Parser(
        prog="charz",
        description="Characterize compute-in-memory circuits in ngspice, fit LUTs, and evaluate networks on them.",
        epilog="Environment: CHARZ_PDK_PATH (card folders), CHARZ_AVT (A_VT override, mV*um), CHARZ_CACHE_DIR "
               "(result cache), CHARZ_SCHEDULER (Dask scheduler), CHARZ_TIMEOUT (time limit of one ngspice run, s), "
               "CHARZ_MC_LIMIT (Monte Carlo samples per point allowed), CHARZ_LUT_PATH (folders of default LUTs, "
               f"<folder>/<pdk>/<name>.json, separated by '{os.pathsep}'). A default LUT (one a command reads when "
               "no path is given) is looked for on the LUT search path: CHARZ_LUT_PATH, then the LUTs installed "
               "with charz, then lut/ of the checkout charz runs from; a LUT path you give is read as given. "
               "Exit codes: 0 ok, 2 bad input, 3 ngspice missing, "
               f"4 simulation failed, 5 bad LUT, {EXIT_INTERNAL} internal error (a bug: the one-line message names "
               "the log file with the traceback), 130 interrupted.",
    )
    ap.add_argument("--version", action="version", version=f"charz {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("doctor", help="check ngspice, libngspice, PySpice, PTM cards and the cache",
                       description="Print what charz finds on this machine: the ngspice executable, the libngspice "
                                   "shared library PySpice loads (NGSPICE_LIBRARY_PATH overrides it), ngspice's version "
                                   "and build flags, PySpice's version, which PTM cards were found where on the search "
                                   "path (CHARZ_PDK_PATH, pdk_models/, ../shared/pdk_models) with their sha256 checked, "
                                   "and the cache location and size. Exits 3 with advice when ngspice, libngspice or "
                                   "PySpice is missing, 2 when the default PDK's card (ptm16hp) or every card is missing "
                                   "or any card file on the search path differs from the manifest's sha256 (altered).")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("pdk", help="list or verify the PTM model cards",
                       description="`pdk list`: the manifest and where each card was found. `pdk verify`: simulate "
                                   "an inverter and Id-Vgs per card and compare with SOURCES.md.")
    ps = p.add_subparsers(dest="pdk_cmd", required=True, parser_class=_Parser)
    ps.add_parser("list", help="manifest and card locations",
                  description="One line per PTM card of pdk_models/manifest.toml: node, flavour, nominal VDD, the "
                              "assumed Pelgrom coefficient A_VT (mV*um; override with --avt or CHARZ_AVT) and where "
                              "the card was found on the search path (or MISSING).")
    pv = ps.add_parser("verify", help="simulate inverter tpd, Ion, Ioff, Vth per card")
    pv.add_argument("--pdk", action="append", help="card to verify (repeatable; default all)")
    _sim_options(pv)
    p.set_defaults(func=cmd_pdk)

    p = sub.add_parser("netlist", help="write the default netlists into netlists/ (or --check them)",
                       description="Generate the golden netlists of every block for a PDK.")
    p.add_argument("--pdk", default=DEFAULT_PDK, help=f"PDK name (default {DEFAULT_PDK}; see `charz pdk list`)")
    p.add_argument("--out", default="netlists", help="folder (default netlists/)")
    p.add_argument("--check", action="store_true", help="exit 1 if the files differ from the generators")
    p.set_defaults(func=cmd_netlist)

    p = sub.add_parser("characterize", help="sweep a block in ngspice (nominal + Monte Carlo) and fit a LUT",
                       description="Characterize a block over VDD and temperature (and pulse width for the column), "
                                   "nominal and Monte Carlo, and save the LUT (.json + .npz). Grids: start:stop:count, "
                                   "a,b,c or one number; numbers take SPICE suffixes (50p).")
    p.add_argument("block", choices=REGISTRY.kinds, help="block to characterize")
    p.add_argument("--pdk", default=DEFAULT_PDK, help=f"PDK name (default {DEFAULT_PDK})")
    p.add_argument("--vdd", help="VDD grid in V (default: the PDK's nominal VDD)")
    p.add_argument("--temp", help="temperature grid in degC (default 27)")
    _block_options(p)
    p.add_argument("--mc", type=int, default=0, help="Monte Carlo samples per grid point (default 0; at most "
                                                       "10000 unless --mc-limit or CHARZ_MC_LIMIT raises it)")
    p.add_argument("--mc-limit", type=int, default=None, metavar="N",
                   help="accept up to N Monte Carlo samples per grid point (default 10000, or CHARZ_MC_LIMIT)")
    p.add_argument("--seed", type=int, default=1, help="Monte Carlo seed (default 1)")
    p.add_argument("--avt", type=float, default=None, help="override A_VT in mV*um (default: the manifest's assumption)")
    p.add_argument("--no-fit-check", action="store_true", help="skip the SPICE re-runs at off-grid points")
    p.add_argument("-o", "--output",
                   help="LUT path without suffix (default out/lut/<pdk>/<block>); an existing LUT there is "
                        "refused before simulating unless --force is given")
    p.add_argument("--force", action="store_true", help="replace an existing LUT at the output path")
    _sim_options(p)
    p.set_defaults(func=cmd_characterize)

    p = sub.add_parser("lut", help="inspect LUT files", description="`lut show PATH`: axes, tables, provenance, fit "
                                                                    "quality. `lut seal PATH`: write the .json checksum.")
    ls = p.add_subparsers(dest="lut_cmd", required=True, parser_class=_Parser)
    lsh = ls.add_parser("show", help="print a LUT's summary",
                        description="Print a LUT's axes (units, interpolated or discrete), conditions, tables with "
                                    "their ranges, Monte Carlo sample counts, provenance (generator, parameters, "
                                    "netlist and card sha256, ngspice and charz versions, A_VT, seed, date) and the "
                                    "fit-quality report (SPICE re-runs at off-grid points vs interpolation).")
    lsh.add_argument("path", help="LUT path (.json, .npz or without suffix)")
    lse = ls.add_parser("seal", help="write the json_sha256 checksum into a LUT you trust",
                        description="A LUT's .json carries json_sha256, the sha256 of its own content, and every "
                                    "command refuses a LUT whose .json was edited or has no checksum (written by "
                                    "an older charz). `lut seal` recomputes it and rewrites only the .json: use it "
                                    "for an older LUT you trust or to accept an edit made on purpose. It refuses a "
                                    "LUT whose .npz does not match npz_sha256. An integrity check, not a signature.")
    lse.add_argument("paths", nargs="+", metavar="PATH", help="LUT path(s) (.json, .npz or without suffix)")
    p.set_defaults(func=cmd_lut)

    p = sub.add_parser("plot", help="write the PNG figures of a LUT",
                       description="Butterfly curves and SNM squares, MC histograms (bitcells); bitline voltage vs k "
                                   "with its Monte Carlo band, energy vs k (column); comparator, converter and WHT "
                                   "figures; td_delay (delay and INL vs code), td_tdc (transfer curve, threshold "
                                   "spread), td_acc (linearity), td_arbiter (metastability, offset).")
    p.add_argument("path", help="LUT path")
    p.add_argument("--out", default="out/plots", help="folder for PNGs (default out/plots)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("eval", help="digits MLP (CiM columns or the TD-MAC) or WHT network (crossbars): accuracy, "
                                    "energy, TOPS/W",
                       description="Evaluate the shipped digits MLP with every matrix product on bit-plane CiM columns "
                                   "read from a cim_column LUT (ideal n-bit quantizer or a converter LUT read-out), "
                                   "with --network wht the frequency-domain digits network on signed-bit WHT crossbars "
                                   "read from a wht_column LUT, or with --network td_mac the digits MLP on the "
                                   "time-domain FP8 MAC read from the td_* LUTs (default 0.8 V; --out adds the "
                                   "exponent- vs mantissa-path sensitivity study).")
    p.add_argument("--network", choices=("mlp", "wht", "td_mac"), default="mlp",
                   help="mlp: the digits MLP on bit-plane CiM columns (default); wht: the frequency-domain digits "
                        "network on signed-bit WHT crossbars (accuracy ideal vs CiM, energy and TOPS/W with and "
                        "without early termination beside the published 1602 / 5311 TOPS/W); td_mac: the digits MLP "
                        "with every product on the time-domain FP8 MAC read from the td_* LUTs (beside the "
                        "published 22.1 TOPS/W)")
    _td_lut_options(p)
    p.add_argument("--length", type=int, default=16, help="--network td_mac: FP8 pairs per scalar product (default 16)")
    p.add_argument("--lut", default=None,
                   help=f"LUT path (default {DEFAULT_PDK}/cim_column, or {DEFAULT_PDK}/wht16 with --network wht, "
                        f"{ON_LUT_PATH})")
    p.add_argument("--mode", choices=("sign", "ternary"), default=None,
                   help="--network wht: latch mode (default: the LUT's: ternary if characterized with the ternary pair)")
    p.add_argument("--pdk", default=None, help="check the LUT was made with this PDK's card")
    _operating_point_options(p)
    p.add_argument("--adc-bits", type=int, default=None, help="ideal quantizer bits (default: enough for N+1 levels)")
    p.add_argument("--adc-lut", default=None,
                   help="read the columns out with this converter LUT (adc_sar, adc_mi_sar, adc_flash, adc_hybrid) "
                        "instead of the ideal quantizer; its energy and conversion time are counted (--network "
                        f"td_mac: the shared read-out converter, default {DEFAULT_PDK}/adc_sar6 {ON_LUT_PATH})")
    p.add_argument("--adc-calibration", choices=("none", "offset"), default="none",
                   help="with --adc-lut (or --network td_mac): 'offset' trims every converter instance's offset "
                        "once (foreground calibration, ideal trim); default none")
    p.add_argument("--columns-per-adc", type=int, default=None,
                   help="with a conventional --adc-lut: columns one converter serves through a mux (default 1)")
    p.add_argument("--mismatch", type=float, default=1.0,
                   help="mismatch scale: 1 = the LUT's Monte Carlo A_VT, 0 = none (default 1)")
    p.add_argument("--chips", type=int, default=5, help="simulated chips (independent mismatch draws; default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the chip draws")
    p.add_argument("--out", default=None, help="also write accuracy-vs-mismatch and energy PNGs here")
    p.add_argument("--sweep-mismatch", default="0,1,2,4,8", help="mismatch scales for the plot (default 0,1,2,4,8)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("check", help="SPICE vs behavioral model: `check wht` (a full WHT crossbar), `check td_mac` "
                                     "(complete L-element FP8 scalar products)",
                       description="`check wht`: simulate the LUT's R x R signed-bit WHT crossbar (its circuit "
                                   "parameters are read from the LUT provenance) in ngspice on random signed vectors, "
                                   "every non-zero bit plane, and compare every column's per-plane decision with the "
                                   "behavioral layer fed by the LUT (agreement rate, goal >= 99 %% nominal); with --mc, "
                                   "compare wrong-decision rates of SPICE instances and model chips. `check td_mac`: "
                                   "random FP8 vectors through the transistor-level time path (delay lines, latest "
                                   "detector, TDCs) and the capacitor accumulation in ngspice, read out by the "
                                   "converter LUT, against the behavioral model from the td_* LUTs and the exact FP8 "
                                   "result (minutes per vector at L = 16).")
    p.add_argument("what", choices=("wht", "td_mac"), help="which block")
    p.add_argument("--lut", default=None, help=f"wht_column LUT path (default {DEFAULT_PDK}/wht16 {ON_LUT_PATH})")
    _td_lut_options(p)
    p.add_argument("--adc-lut", default=None, help=f"td_mac: read-out converter LUT (default {DEFAULT_PDK}/adc_sar6 "
                                                             f"{ON_LUT_PATH})")
    p.add_argument("--length", type=int, default=16, help="td_mac: FP8 pairs per scalar product (default 16)")
    p.add_argument("--vectors", type=int, default=8, help="random input vectors (default 8)")
    p.add_argument("--bits", type=int, default=8, help="input bits, sign-magnitude (default 8: 7 planes)")
    p.add_argument("--mc", type=int, default=0, help="Monte Carlo crossbar instances (default 0: nominal only)")
    p.add_argument("--seed", type=int, default=0, help="seed of the vectors (Monte Carlo uses seed + 1)")
    _operating_point_options(p)
    p.add_argument("--json", default=None, help="also write the result as JSON here")
    _sim_options(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("report", help="reports from the LUTs: `report digitizers`",
                       description="`report digitizers`: the converters of one PDK at one resolution side by side "
                                   "(transfer curves with INL/DNL, offset histograms, energy and area, ratios "
                                   "memory-immersed vs conventional SAR and flash beside the published 25x/1.4x and "
                                   "51x/13x with the reasons ours differ), and the digits MLP read out by every "
                                   "converter LUT found for 3..6 bits. Reads LUTs only (<lut-dir>/<pdk>/<kind><bits>).")
    p.add_argument("what", choices=("digitizers",), help="which report")
    p.add_argument("--pdk", default=DEFAULT_PDK, help=f"PDK name (default {DEFAULT_PDK})")
    p.add_argument("--bits", type=int, default=5, help="resolution of the converter comparison (default 5)")
    p.add_argument("--lut-dir", default=None,
                   help="folder holding <pdk>/<kind><bits>.json (default: the first folder on the LUT search path "
                        "holding a converter LUT of --pdk at --bits)")
    p.add_argument("--out", default="out/report_digitizers", help="folder for the tables and PNGs")
    p.add_argument("--chips", type=int, default=3, help="simulated chips per network evaluation (default 3)")
    p.add_argument("--no-network", action="store_true", help="skip the network evaluations")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="the whole flow on the default PDK: characterize, fit, evaluate, plot",
                       description="Characterize the 6T/8T bitcells and the 16-row CiM column in ngspice (nominal + "
                                   "Monte Carlo), fit LUTs, evaluate the digits MLP on them, print a summary table and "
                                   "write PNGs.")
    p.add_argument("--pdk", default=DEFAULT_PDK, help=f"PDK (default {DEFAULT_PDK})")
    p.add_argument("--out", default="out/demo", help="output folder for LUTs and PNGs (default out/demo)")
    p.add_argument("--mc", type=int, default=40, help="Monte Carlo samples per point (default 40)")
    p.add_argument("--seed", type=int, default=1, help="Monte Carlo seed")
    p.add_argument("--avt", type=float, default=None, help="override A_VT (mV*um)")
    _sim_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("train", help="re-train the digits MLP or WHT network (seconds) and write its weights; "
                                     "td_mac: training in memory vs FP32",
                       description="mlp: train the 64-64-10 digits MLP in NumPy (float, then quantization-aware) and "
                                   "save the quantized 4-bit weights. wht: train the frequency-domain digits network "
                                   "against the quantized crossbar, hardware-aware through a wht_column LUT's circuit "
                                   "model (the shipped weights' recipe: LUT, VDD, mode, sparsity) unless --ideal. "
                                   "td_mac: train the digits MLP with every product on the TD-MAC model and in FP32 "
                                   "from the same init; writes the loss curves (PNG + JSON), no weights.")
    p.add_argument("--network", choices=("mlp", "wht", "td_mac"), default="mlp",
                   help="which network (default mlp); td_mac: train the digits MLP in memory (forward and backward "
                        "products in FP8 on the TD-MAC model from the td_* LUTs) and in FP32 from the same init, "
                        "and plot both loss curves (nothing is shipped)")
    p.add_argument("--lut", default=None, help="wht: LUT for hardware-aware training (default: the shipped recipe's, "
                                               f"lut/<pdk>/<name>, looked for as <pdk>/<name> {ON_LUT_PATH})")
    p.add_argument("--ideal", action="store_true",
                   help="wht: train against the ideal quantized crossbar only; td_mac: exact FP8 instead of the circuit")
    _td_lut_options(p)
    p.add_argument("--adc-lut", default=None, help=f"td_mac: read-out converter LUT (default {DEFAULT_PDK}/adc_sar6 "
                                                             f"{ON_LUT_PATH})")
    p.add_argument("--length", type=int, default=16, help="td_mac: FP8 pairs per scalar product (default 16)")
    p.add_argument("--epochs", type=int, default=None, help="td_mac: epochs (default 20)")
    p.add_argument("--out", default=None, help="td_mac: folder for the loss-curve PNG and JSON (default out/td_train)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", default=None, help="weights file (default: the shipped charz/network/data file)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("cache", help="result cache: info or clear",
                       description="The content-addressed cache of simulation results (CHARZ_CACHE_DIR, default ~/.cache/charz).")
    cs = p.add_subparsers(dest="cache_cmd", required=True, parser_class=_Parser)
    cs.add_parser("info", help="location, entries, size")
    cs.add_parser("clear", help="delete every cached result (only files charz wrote)")
    p.set_defaults(func=cmd_cache)
    return ap


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def log_dir() -> Path:
    """Where tracebacks of internal errors go: <cache dir>/logs (CHARZ_CACHE_DIR, XDG_CACHE_HOME or
    ~/.cache/charz), or the temp dir when that is not writable."""
    from .sim.cache import default_dir

    return default_dir() / "logs"


def _write_traceback(exc: BaseException, argv) -> Path | None:
    """Write *exc*'s traceback (with the command line and versions) to a new log file; its path, or None."""
    import platform
    import tempfile
    import traceback

    text = (f"charz {__version__}, python {platform.python_version()} on {platform.platform()}\n"
            f"command: charz {' '.join(map(str, sys.argv[1:] if argv is None else argv))}\n"
            f"time: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dirs = []
    try:
        dirs.append(log_dir())
    except Exception:  # noqa: BLE001 - the cache location itself may be what is broken
        pass
    dirs.append(Path(tempfile.gettempdir()) / "charz-logs")
    for d in dirs:
        try:
            d.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f"charz-{stamp}-", suffix=".log", dir=d)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            return Path(name)
        except OSError:
            continue
    return None


def _print_tally(tally) -> None:
    """After a command that planned simulations: how many came from the cache, ran, failed (stdout)."""
    if tally.jobs:
        print(tally.line(), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the parser epilog). Errors are one line on stderr:
    a CharzError with its own code, anything unexpected with EXIT_INTERNAL and the traceback in a log file."""
    from .sim.executor import reset_tally

    tally = reset_tally()
    try:
        args = build_parser().parse_args(argv)
        rc = int(args.func(args) or 0)
        _print_tally(tally)
        return rc
    except CharzError as exc:
        _print_tally(tally)
        print(f"charz: error: {_one_line(exc) or type(exc).__name__}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        _print_tally(tally)
        print("charz: interrupted; finished simulations are cached: rerun the same command to resume",
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback on the terminal
        log = _write_traceback(exc, argv)
        msg = _one_line(exc)
        msg = f"{type(exc).__name__}: {msg[:300]}{'...' if len(msg) > 300 else ''}" if msg else type(exc).__name__
        where = f"the traceback is in {log}" if log else "the traceback could not be saved"
        print(f"charz: error: internal error ({msg}); {where} - please report it", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
