"""The block registry: the block names (:data:`BLOCKS`, the converters :data:`ADC_BLOCKS`), the
characterize dispatch (:func:`characterize`: one block name -> its recipe in :mod:`charz.characterize`)
and the plots of a LUT (:func:`make_plots`: the LUT kind -> its figures in :mod:`charz.plot`).

Shared by the command line (:mod:`charz.cli`) and the demo (:mod:`charz.demo`), which need not import
each other (``tests/test_stages.py`` finds import cycles). Recipes and plot modules are imported when a
block is asked for, so importing this module stays cheap.
"""

from __future__ import annotations

from pathlib import Path

from .errors import CharzError
from .lut import ADC_KINDS, KINDS, TD_KINDS, Kind

BLOCKS = KINDS
"""The blocks ``charz characterize`` knows: every LUT kind (:data:`charz.lut.KINDS`)."""
ADC_BLOCKS = ADC_KINDS


def characterize(block: str, pdk, **kw):
    """Run one block's recipe; returns the LUT (with any failures in lut.provenance['failed_points'])."""
    cell_only = ("sizes",) if block == Kind.WHT_COLUMN else ("sizes", "mismatch_beta")
    if block not in (Kind.BITCELL6T, Kind.BITCELL8T, Kind.CIM_COLUMN):
        bad = [k for k in cell_only if kw.get(k)]
        if bad:
            raise CharzError(f"--{bad[0].replace('_', '-')} applies to the bitcells and the column only"
                             + (" (WHT cell sizes are WhtParams fields w_cell, l_cell)"
                                if block == Kind.WHT_COLUMN else ""))
        kw = {k: v for k, v in kw.items() if k not in cell_only}
    for opt in ("length", "window"):
        if block not in (Kind.TD_TDC, Kind.TD_ACC) + (() if opt == "window" else ()) and kw.get(opt) is not None:
            raise CharzError(f"--{opt} applies to td_tdc{' and td_acc' if opt == 'length' else ''} only")
        if block == Kind.TD_ACC and opt == "window" and kw.get(opt) is not None:
            raise CharzError("--window applies to td_tdc only")
    tdkw = {k: kw.pop(k) for k in ("length", "window") if k in kw}
    tdkw = {k: v for k, v in tdkw.items() if v is not None}
    for opt in ("bits", "steps_per_lsb"):
        bits_too = (Kind.TD_DELAY, Kind.TD_TDC) if opt == "bits" else ()
        if block not in ADC_BLOCKS + bits_too and kw.get(opt) is not None:
            raise CharzError(f"--{opt.replace('_', '-')} applies to the converters ({', '.join(ADC_BLOCKS)}) only")
    for opt in ("flash_bits", "hybrid_dac"):
        if block != Kind.ADC_HYBRID and kw.get(opt) is not None:
            raise CharzError(f"--{opt.replace('_', '-')} applies to adc_hybrid only")
    for opt in ("vref_lo", "vref_hi"):
        if block not in ADC_BLOCKS and kw.get(opt) is not None:
            raise CharzError(f"--vref applies to the converters ({', '.join(ADC_BLOCKS)}) only")
    if kw.get("n_bitlines") is not None and block not in (Kind.ADC_MI_SAR, Kind.ADC_HYBRID):
        raise CharzError("--bitlines applies to adc_mi_sar and adc_hybrid (the converters that borrow bitlines) only")
    fb, hdac = kw.pop("flash_bits", None), kw.pop("hybrid_dac", None)
    kw = {k: v for k, v in kw.items() if k not in ("vref_lo", "vref_hi", "n_bitlines") or v is not None}
    kw = {k: v for k, v in kw.items() if k != "steps_per_lsb" or v is not None}
    if block in (Kind.BITCELL6T, Kind.BITCELL8T):
        from .characterize.bitcell import characterize_bitcell

        return characterize_bitcell(pdk, cell=block[-2:], **_drop(kw, "bits"))
    if block == Kind.CIM_COLUMN:
        from .characterize.cim_column import characterize_column

        return characterize_column(pdk, **_drop(kw, "bits"))
    if block == Kind.TD_DELAY:
        from .characterize.td_mac import characterize_delay

        return characterize_delay(pdk, **_bits_default(kw))
    if block == Kind.TD_TDC:
        from .characterize.td_mac import characterize_tdc

        kw = _drop(kw, "fit_check")
        if kw.get("bits") is not None:
            kw["ebits"] = kw.pop("bits")
        return characterize_tdc(pdk, **_drop(kw, "bits"), **tdkw)
    if block in (Kind.TD_ACC, Kind.TD_ARBITER):
        from .characterize import td_mac as tdm

        kw = _drop(kw, "fit_check", "bits")
        if block == Kind.TD_ACC:
            if kw.pop("mc", 0):
                raise CharzError("td_acc has no Monte Carlo: transistor mismatch barely moves a capacitor line and "
                                 "capacitor mismatch is applied by the behavioural model (an assumption in the LUT)")
            kw.pop("seed", None)
            return tdm.characterize_acc(pdk, **kw, **tdkw)
        return tdm.characterize_arbiter(pdk, **kw)
    if block == Kind.WHT_COLUMN:
        from .characterize.wht import characterize_wht

        return characterize_wht(pdk, **_drop(kw, "bits"))
    if block == Kind.COMPARATOR:
        from .characterize.comparator import characterize_comparator

        return characterize_comparator(pdk, **_drop(kw, "bits"))
    if block in (Kind.ADC_SAR, Kind.ADC_MI_SAR):
        from .characterize.digitizer import characterize_sar

        return characterize_sar(pdk, kind=block[4:], **_bits_default(kw))
    if block == Kind.ADC_HYBRID:
        from .characterize.digitizer import characterize_sar

        bits = 5 if kw.get("bits") is None else kw["bits"]
        kind = {"bitline": "mi_sar", "mom": "sar", None: "mi_sar"}[hdac]
        return characterize_sar(pdk, kind=kind, flash_bits=max(1, bits // 2) if fb is None else fb,
                                **_bits_default(kw))
    if block == Kind.ADC_FLASH:
        from .characterize.flash import characterize_flash

        return characterize_flash(pdk, **_drop(_bits_default(kw), "fit_check"))
    raise CharzError(f"unknown block '{block}': choose one of {', '.join(BLOCKS)}")


def _drop(kw: dict, *names) -> dict:
    return {k: v for k, v in kw.items() if k not in names}


def _bits_default(kw: dict) -> dict:
    return kw if kw.get("bits") is not None else _drop(kw, "bits")


def make_plots(lut, out: Path, stem: str) -> list[Path]:
    """Write the PNGs of *lut* (by its block) into folder *out* (created), with file names starting with
    *stem*; returns their paths. Raises ``CharzError`` for a block without plots."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if lut.block in (Kind.BITCELL6T, Kind.BITCELL8T):
        from .plot import bitcell as pb

        written.append(pb.plot_butterfly(lut, out / f"{stem}_butterfly.png") or out / f"{stem}_butterfly.png")
        if lut.samples:
            written.append(pb.plot_mc_histograms(lut, out / f"{stem}_mc_hist.png") or out / f"{stem}_mc_hist.png")
    elif lut.block == Kind.CIM_COLUMN:
        from .plot import cim as pc

        written.append(pc.plot_vbl_vs_k(lut, out / f"{stem}_vbl_vs_k.png") or out / f"{stem}_vbl_vs_k.png")
        written.append(pc.plot_energy_vs_k(lut, out / f"{stem}_energy_vs_k.png") or out / f"{stem}_energy_vs_k.png")
        if lut.samples:
            written.append(pc.plot_vbl_histograms(lut, out / f"{stem}_vbl_hist.png") or out / f"{stem}_vbl_hist.png")
    elif lut.block == Kind.COMPARATOR:
        from .plot import comparator as pcmp

        written += pcmp.plot_all(lut, out, stem)
    elif lut.block == Kind.WHT_COLUMN:
        from .plot import wht as pw

        written += pw.plot_all(lut, out, stem)
    elif lut.block in TD_KINDS:
        from .plot import td_mac as pt

        written += pt.plot_lut(lut, out, stem)
    elif lut.block in ADC_KINDS:
        from .plot import digitizer as pd

        written.append(pd.plot_transfer(lut, out / f"{stem}_transfer.png") or out / f"{stem}_transfer.png")
    else:
        raise CharzError(f"no plots for LUT kind '{lut.block}'")
    return [Path(p) for p in written]
