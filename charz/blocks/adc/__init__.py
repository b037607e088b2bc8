"""A/D converters for column read-out: SA (binary CDAC), memory-immersed SA (borrowed bitlines), hybrid
(coarse flash + SA) and flash, as transition tables with Monte Carlo (``charz characterize adc_*``)."""

from ...core.lut import ADC_KINDS, Kind
from ..base import Block, Option

ADC_CALIBRATION = Option(
    "--adc-calibration", choices=("none", "offset", "trim"), default="none",
    help="with a converter LUT: 'offset' trims every converter instance's offset once (foreground calibration, ideal "
         "trim); 'trim' does it through the comparator's trim DAC characterized in SPICE (finite step, its own "
         "mismatch, its energy counted; --trim-lut); default none")
"""The converter calibration option of the network commands that read a converter LUT out."""
TRIM_LUT = Option("--trim-lut", help="with --adc-calibration trim: the comparator LUT with an offset trim (default "
                                     "ptm16hp/comparator_trim on the LUT search path)")

BLOCK = Block(
    family="adc",
    kinds=ADC_KINDS,
    summary="SA, memory-immersed SA, hybrid and flash converters: transition tables, energy, conversion time",
    params=("charz.blocks.adc.netlist:SarParams", "charz.blocks.adc.netlist_flash:FlashParams"),
    recipe="charz.blocks.adc.recipe:characterize",
    plots="charz.blocks.adc.plots:plot_lut",
    golden=("charz.blocks.adc.netlist_deck:golden_netlists", "charz.blocks.adc.netlist_flash:golden_netlists"),
    options=(
        Option("--bits", type="int", help="resolution in bits (default 5)"),
        Option("--steps-per-lsb", type="int",
               help="input sweep steps per LSB, 2..64 (default 8; transitions are found within +-LSB/(2 x steps))"),
        Option("--vref", metavar="LO,HI", help="input range in V (default: per kind, e.g. 0.35..1.0 VDD for the SA "
                                               "kinds)"),
        Option("--bitlines", type="int", kinds=(Kind.ADC_MI_SAR, Kind.ADC_HYBRID),
               help="bitlines of the neighbour array the DAC may borrow (default 64)"),
        Option("--flash-bits", type="int", kinds=(Kind.ADC_HYBRID,),
               help="MSBs decided by the coarse flash, 1..min(3, bits-1) (default bits // 2)"),
        Option("--hybrid-dac", choices=("bitline", "mom"), kinds=(Kind.ADC_HYBRID,),
               help="DAC of the SA part, borrowed bitlines (default) or MOM capacitors"),
    ),
    model="charz.blocks.adc.model:DigitizerModel",
)
