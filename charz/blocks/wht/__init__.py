"""The signed-bit Walsh-Hadamard crossbar column: dV and latch decisions for every (k+, k-) pair, sign
latch or ternary pair, energy split, Monte Carlo decision model (``charz characterize wht_column``); its
model runs block WHTs on bit planes with early termination."""

from ...core.lut import Kind
from ..base import Block, Command, Option
from ..bitcell import BETA_MISMATCH
from ..cim_column import T_PULSE, T_PULSE_POINT

WHT_LUT = Option("--lut", help="wht_column LUT path (default ptm16hp/wht16 on the LUT search path)")
"""``--lut`` of ``charz eval --network wht`` and ``charz check wht``."""

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
    model="charz.blocks.wht.model:WhtModel",
    hints=(("--size", "WHT cell sizes are WhtParams fields w_cell, l_cell"),),
    commands=(
        Command(verb="eval", name="wht", run="charz.blocks.wht.commands:eval_wht",
                summary="frequency-domain digits network on WHT crossbars",
                help="the frequency-domain digits network on signed-bit WHT crossbars read from a wht_column "
                     "LUT: accuracy ideal vs CiM, energy and TOPS/W with and without early termination beside the "
                     "published 1602 / 5311 TOPS/W (default VDD 0.8 V when on the LUT grid); --out adds the "
                     "mismatch and VDD sweeps.",
                options=(WHT_LUT, T_PULSE_POINT,
                         Option("--mode", choices=("sign", "ternary"),
                                help="latch mode (default: the LUT's: ternary if characterized with the ternary "
                                     "pair)"),
                         Option("--latch-calibration", choices=("none", "trim"), default="none",
                                help="'trim': every latch gets the comparator's offset trim DAC (--trim-lut, "
                                     "characterized in SPICE) and each chip centres every latch threshold between "
                                     "two known planes before it runs; the errors before / after, the trim's energy, "
                                     "area and the calibration's time are reported (default none)"),
                         Option("--trim-lut", help="with --latch-calibration trim: the comparator LUT with an offset "
                                                   "trim at the crossbar's VDD (default ptm16hp/comparator_trim on "
                                                   "the LUT search path)")),
                hints=tuple((f, "no converters: a latch per column")
                            for f in ("--adc-lut", "--adc-bits", "--adc-calibration", "--columns-per-adc"))),
        Command(verb="check", name="wht", run="charz.blocks.wht.commands:check_wht",
                summary="a full WHT crossbar",
                help="simulate the LUT's R x R signed-bit WHT crossbar (its circuit parameters are read from the "
                     "LUT provenance) in ngspice on random signed vectors, every non-zero bit plane, and compare "
                     "every column's per-plane decision with the behavioral layer fed by the LUT (agreement rate, "
                     "goal >= 99 % nominal); with --mc, compare wrong-decision rates of SPICE instances and model "
                     "chips.",
                options=(WHT_LUT, T_PULSE_POINT,
                         Option("--bits", type="int", default=8,
                                help="input bits, sign-magnitude (default 8: 7 planes)"),
                         Option("--mc", type="int", default=0,
                                help="Monte Carlo crossbar instances (default 0: nominal only)"))),
        Command(verb="train", name="wht", run="charz.blocks.wht.commands:train_wht",
                summary="the WHT network",
                help="train the frequency-domain digits network against the quantized crossbar, hardware-aware "
                     "through a wht_column LUT's circuit model (the shipped weights' recipe: LUT, VDD, mode, "
                     "sparsity) unless --ideal.",
                options=(Option("--lut", help="LUT for hardware-aware training (default: the shipped recipe's, "
                                              "lut/<pdk>/<name>, looked for as <pdk>/<name> on the LUT search path)"),
                         Option("--ideal", type="flag", help="train against the ideal quantized crossbar only"))),
    ),
)
