"""Digital CiM word add by bitline computing in a 6T SRAM array (``charz characterize dcim_add``): two rows'
word lines raised together give AND / NOR on the bit lines, skewed sense inverters and a near-memory static
ripple-carry adder per column give the N-bit sum. Measured: correctness, energy per add and its split,
carry delay, sense margins, read disturb and their Monte Carlo spread; :mod:`charz.blocks.dcim.model` gives
the energy per add, delay and error rate that the HCiM study charges per scale-factor add."""

from ...core.lut import Kind
from ..base import Block, Option
from ..bitcell import BETA_MISMATCH

BLOCK = Block(
    family="dcim",
    kinds=(Kind.DCIM_ADD,),
    summary="bitline-computing N-bit add in a 6T SRAM array (AND / NOR of two rows, sense inverters, ripple-carry "
            "adder per column): energy per add, carry delay, sense margins, read disturb, error rate",
    params=("charz.blocks.dcim.netlist:DcimParams",),
    recipe="charz.blocks.dcim.recipe:characterize",
    plots="charz.blocks.dcim.plots:plot_lut",
    golden=("charz.blocks.dcim.netlist:golden_netlists",),
    options=(Option("--word-bits", type="int", kinds=(Kind.DCIM_ADD,),
                    help="word length N of the add (columns), 1..32 (default 8)"),
             Option("--pairs", kinds=(Kind.DCIM_ADD,), metavar="A+B,...",
                    help="operand pairs added, e.g. 255+0,127+1 (default: 0+0, 2^N-1 + 0, 2^N-1 + 1, "
                         "2^(N-1)-1 + 1 and three random pairs)"),
             Option("--vwl-ratio", type="float", kinds=(Kind.DCIM_ADD,),
                    help="word-line high level / VDD, 0.3..1 (underdrive against read disturb; default 0.7)"),
             BETA_MISMATCH),
    model="charz.blocks.dcim.model:DcimAddModel",
)
"""Bitline-computing add (:mod:`charz.blocks.dcim.netlist` circuit, :mod:`charz.blocks.dcim.recipe` measurements
and LUT contract, :mod:`charz.blocks.dcim.model` energy / delay / error rate per add)."""
