"""SRAM ternary CAM row on a NOR match line: match-line voltage at the sense instant against the number of
mismatching bits, the sense amplifier's match flag, search energy and their Monte Carlo spread
(``charz characterize cam_sram``); its model runs vectorized nearest-key searches fed by the LUT."""

from ...core.lut import Kind
from ..base import Block, Option
from ..bitcell import BETA_MISMATCH

BLOCK = Block(
    family="cam",
    kinds=(Kind.CAM_SRAM,),
    summary="SRAM (ternary) CAM row on a NOR match line: V_ML at the sense instant vs mismatching bits, energy",
    params=("charz.blocks.cam.netlist:CamParams",),
    recipe="charz.blocks.cam.recipe:characterize",
    plots="charz.blocks.cam.plots:plot_lut",
    golden=("charz.blocks.cam.netlist:golden_netlists",),
    options=(Option("--bits", type="int", kinds=(Kind.CAM_SRAM,),
                    help="word length W, compare cells on the match line, 1..256; the sweep runs m = 0..W "
                         "mismatching bits (default 16)"),
             Option("--rows", type="int", kinds=(Kind.CAM_SRAM,),
                    help="rows of the array sharing the search lines: their load and the energy shares of the "
                         "search lines and the replica reference row (default 64)"),
             Option("--t-sense", type="number", kinds=(Kind.CAM_SRAM,),
                    help="sense instant after the search lines' 50 % point in s, e.g. 80p (default 80 ps)"),
             BETA_MISMATCH),
    model="charz.blocks.cam.model:CamModel",
)
"""SRAM CAM row (see :mod:`charz.blocks.cam.netlist` for the circuit, :mod:`charz.blocks.cam.recipe` for the
measurements and the LUT contract, :mod:`charz.blocks.cam.model` for the search model)."""
