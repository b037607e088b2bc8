"""The StrongARM latch comparator: offset (staircase decks, Monte Carlo), decision time against the input,
energy per decision (``charz characterize comparator``), and its offset trim DAC (``--trim-bits``: the
offset at every trim code, per instance, for the converters' ``trim`` calibration); reused by every
converter."""

from ...core.lut import Kind
from ..base import Block, Option

BLOCK = Block(
    family="comparator",
    kinds=(Kind.COMPARATOR,),
    summary="StrongARM latch comparator: offset, decision time, energy",
    params=("charz.blocks.comparator.netlist:ComparatorParams", "charz.blocks.comparator.netlist:ComparatorSizes"),
    recipe="charz.blocks.comparator.recipe:characterize",
    plots="charz.blocks.comparator.plots:plot_lut",
    golden=("charz.blocks.comparator.netlist:golden_netlists",),
    options=(Option("--trim-bits", type="int", kinds=(Kind.COMPARATOR,),
                    help="add an offset trim DAC of this many magnitude bits, 1..6 (binary-weighted NMOS pairs beside "
                         "the input pair, LSB w_trim = Lmin) and measure the offset at codes 0, +-2^b and "
                         "+-(2^k - 1), nominal and per Monte Carlo instance (default: no trim)"),
             Option("--t-step", type="number", kinds=(Kind.COMPARATOR,),
                    help="maximum transient time step in s, e.g. 4p (default t_clk / 200 = 2 ps on ptm16hp; "
                         "bench/README.md (k) measures what a coarser step changes)")),
    model="charz.blocks.comparator.model:ComparatorBank",
)
