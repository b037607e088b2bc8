"""The bit-plane CiM column: N 8T cells on a read bitline, V_BL and energy against the number k of
computing cells, with Monte Carlo (``charz characterize cim_column``); its model reads columns out by an
ideal quantizer or a converter LUT."""

from ...core.lut import Kind
from ..base import Block, Command, Option
from ..adc import ADC_CALIBRATION, TRIM_LUT
from ..bitcell import BETA_MISMATCH, SIZE
from .model_calib import COLUMN_CALIBRATIONS

ROWS = Option("--rows", type="int", help="cells on the bitline, 8..64 (default 16)")
T_PULSE = Option("--t-pulse", help="wordline (row) pulse-width grid in s (e.g. 40p,60p)")
T_PULSE_POINT = Option("--t-pulse", help="wordline / row pulse width in s (default: the LUT's best-separated grid "
                                         "value)")
"""``--t-pulse`` of the commands that read a LUT at one operating point (``charz eval`` / ``check``)."""

STORAGE = Option("--storage", choices=("6t", "ideal"), default="6t",
                 help="how the column decks hold the weights: 6t = the cells' 6T cores (default), ideal = the read "
                      "drivers' gates tied to the supply or ground (no 6T core simulated: faster; "
                      "bench/README.md (i) has what it changes)")

COLUMN_CALIBRATION = Option(
    "--column-calibration", choices=COLUMN_CALIBRATIONS, default="none",
    help="gain_offset: every chip fits each column's read-out against known inputs (k = 0..N active rows on "
         "all-ones cells) and corrects its gain and offset in that column's decode table (offset read at k = 0); "
         "gain_offset_lsq: the least-squares line over every level; default none")

BLOCK = Block(
    family="cim_column",
    kinds=(Kind.CIM_COLUMN,),
    summary="bit-plane CiM column (8T cells on a read bitline): V_BL and energy vs k",
    params=("charz.blocks.cim_column.netlist:CimColumnParams",),
    recipe="charz.blocks.cim_column.recipe:characterize",
    plots="charz.blocks.cim_column.plots:plot_lut",
    golden=("charz.blocks.cim_column.netlist:golden_netlists",),
    options=(ROWS, T_PULSE, SIZE, BETA_MISMATCH, STORAGE),
    model="charz.blocks.cim_column.model:ColumnModel",
    commands=(
        Command(verb="eval", name="mlp", run="charz.blocks.cim_column.commands:eval_mlp", default=True,
                summary="digits MLP on CiM columns",
                help="the shipped digits MLP with every matrix product on bit-plane CiM columns read from a "
                     "cim_column LUT, read out by an ideal n-bit quantizer or a converter LUT (--adc-lut); --out "
                     "adds accuracy vs mismatch and the energy breakdown (the default network).",
                options=(
                    Option("--lut", help="cim_column LUT path (default ptm16hp/cim_column on the LUT search path)"),
                    T_PULSE_POINT,
                    Option("--adc-bits", type="int", help="ideal quantizer bits (default: enough for N+1 levels)"),
                    Option("--adc-lut", help="read the columns out with this converter LUT (adc_sar, adc_mi_sar, "
                                             "adc_flash, adc_hybrid) instead of the ideal quantizer; its energy and "
                                             "conversion time are counted"),
                    ADC_CALIBRATION,
                    TRIM_LUT,
                    Option("--columns-per-adc", type="int",
                           help="with a conventional --adc-lut: columns one converter serves through a mux "
                                "(default 1)"),
                    COLUMN_CALIBRATION,
                )),
        Command(verb="train", name="mlp", run="charz.blocks.cim_column.commands:train_mlp", default=True,
                summary="the digits MLP",
                help="train the 64-64-10 digits MLP in NumPy (float, then quantization-aware) and save the "
                     "quantized 4-bit weights (the default network)."),
    ),
)
