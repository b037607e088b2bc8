"""SRAM ternary CAM row on a NOR match line: match-line voltage at the sense instant against the number of
mismatching bits, the sense amplifier's match flag, search energy and their Monte Carlo spread
(``charz characterize cam_sram``); its model runs vectorized nearest-key searches fed by the LUT. The MTJ
analog CAM cell (``charz characterize cam_mtj``): match-window edges against the programmed MTJ states,
their spread and the energy per search; :mod:`charz.blocks.cam.model_mtj` looks analog inputs up in rows
of windows."""

from ...core.lut import Kind
from ..base import Block, Option
from ..bitcell import BETA_MISMATCH

BLOCK = Block(
    family="cam",
    kinds=(Kind.CAM_SRAM, Kind.CAM_MTJ),
    summary="SRAM (ternary) CAM row on a NOR match line: V_ML at the sense instant vs mismatching bits, energy; "
            "MTJ analog CAM cell: match-window edges vs programmed MTJ states",
    params=("charz.blocks.cam.netlist:CamParams", "charz.blocks.cam.netlist_mtj:MtjCamParams",
            "charz.blocks.cam.netlist_mtj:MtjParams"),
    recipe="charz.blocks.cam.recipe:characterize",
    plots="charz.blocks.cam.plots:plot_lut",
    golden=("charz.blocks.cam.netlist:golden_netlists", "charz.blocks.cam.netlist_mtj:golden_netlists"),
    options=(Option("--bits", type="int", kinds=(Kind.CAM_SRAM, Kind.CAM_MTJ),
                    help="cam_sram: word length W, compare cells on the match line, 1..256; the sweep runs m = 0..W "
                         "mismatching bits (default 16). cam_mtj: MTJs per branch, 1..3 (2^bits programmed states "
                         "per edge; default 3)"),
             Option("--rows", type="int", kinds=(Kind.CAM_SRAM,),
                    help="rows of the array sharing the search lines: their load and the energy shares of the "
                         "search lines and the replica reference row (default 64)"),
             Option("--t-sense", type="number", kinds=(Kind.CAM_SRAM, Kind.CAM_MTJ),
                    help="cam_sram: sense instant after the search lines' 50 % point in s, e.g. 80p (default 80 ps). "
                         "cam_mtj: sense instant after the evaluate clock's 50 % point (default 150 ps)"),
             BETA_MISMATCH),
    model="charz.blocks.cam.model:CamModel",
)
"""SRAM CAM row (see :mod:`charz.blocks.cam.netlist` for the circuit, :mod:`charz.blocks.cam.recipe` for the
measurements and the LUT contract, :mod:`charz.blocks.cam.model` for the search model) and MTJ analog CAM cell
(:mod:`charz.blocks.cam.netlist_mtj`, :mod:`charz.blocks.cam.recipe_mtj`, :mod:`charz.blocks.cam.model_mtj`)."""
