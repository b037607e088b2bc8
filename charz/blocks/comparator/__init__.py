"""The StrongARM latch comparator: offset (staircase decks, Monte Carlo), decision time against the input,
energy per decision (``charz characterize comparator``); reused by every converter."""

from ...core.lut import Kind
from ..base import Block

BLOCK = Block(
    family="comparator",
    kinds=(Kind.COMPARATOR,),
    summary="StrongARM latch comparator: offset, decision time, energy",
    params=("charz.blocks.comparator.netlist:ComparatorParams", "charz.blocks.comparator.netlist:ComparatorSizes"),
    recipe="charz.blocks.comparator.recipe:characterize",
    plots="charz.blocks.comparator.plots:plot_lut",
    golden=("charz.blocks.comparator.netlist:golden_netlists",),
    model="charz.blocks.comparator.model:ComparatorBank",
)
