"""The bit-plane CiM column: N 8T cells on a read bitline, V_BL and energy against the number k of
computing cells, with Monte Carlo (``charz characterize cim_column``); its model reads columns out by an
ideal quantizer or a converter LUT."""

from ...core.lut import Kind
from ..base import Block, Option
from ..bitcell import BETA_MISMATCH, SIZE

ROWS = Option("--rows", type="int", help="cells on the bitline, 8..64 (default 16)")
T_PULSE = Option("--t-pulse", help="wordline (row) pulse-width grid in s (e.g. 40p,60p)")

BLOCK = Block(
    family="cim_column",
    kinds=(Kind.CIM_COLUMN,),
    summary="bit-plane CiM column (8T cells on a read bitline): V_BL and energy vs k",
    params=("charz.blocks.cim_column.netlist:CimColumnParams",),
    recipe="charz.blocks.cim_column.recipe:characterize",
    plots="charz.blocks.cim_column.plots:plot_lut",
    golden=("charz.blocks.cim_column.netlist:golden_netlists",),
    options=(ROWS, T_PULSE, SIZE, BETA_MISMATCH),
    model="charz.blocks.cim_column.model:CiMLayer",
)
