"""The signed-bit Walsh-Hadamard crossbar column: dV and latch decisions for every (k+, k-) pair, sign
latch or ternary pair, energy split, Monte Carlo decision model (``charz characterize wht_column``); its
model runs block WHTs on bit planes with early termination."""

from ...core.lut import Kind
from ..base import Block, Option
from ..bitcell import BETA_MISMATCH
from ..cim_column import T_PULSE

BLOCK = Block(
    family="wht",
    kinds=(Kind.WHT_COLUMN,),
    summary="signed-bit WHT crossbar column: dV and latch decisions per (k+, k-), early termination",
    params=("charz.blocks.wht.netlist:WhtParams",),
    recipe="charz.blocks.wht.recipe:characterize",
    plots="charz.blocks.wht.plots:plot_lut",
    golden=("charz.blocks.wht.netlist:golden_netlists",),
    options=(Option("--rows", type="int", help="rows per column 4..64, a power of two (above 16 the column is "
                                              "stitched from 16-row tiles) (default 16)"),
             T_PULSE, BETA_MISMATCH,
             Option("--sign-only", type="flag", help="only the sign latch (no ternary latch with its dead zone)")),
    model="charz.blocks.wht.model:WhtLayer",
    hints=(("--size", "WHT cell sizes are WhtParams fields w_cell, l_cell"),),
)
