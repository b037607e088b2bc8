"""The time-domain FP8 MAC (TimeFloats-style), composed from block LUTs: delay line per exponent code, TDC,
charge accumulation line and arbiter (``charz characterize td_delay|td_tdc|td_acc|td_arbiter``)."""

from ...core.lut import TD_KINDS, Kind
from ..adc import ADC_CALIBRATION, TRIM_LUT
from ..base import Block, Command, Option

LUTS = (
    Option("--delay-lut", help="td_delay LUT (default ptm16hp/td_delay4 on the LUT search path)"),
    Option("--tdc-lut", help="td_tdc LUT (default ptm16hp/td_tdc on the LUT search path)"),
    Option("--acc-lut", help="td_acc LUT (default ptm16hp/td_acc on the LUT search path)"),
    Option("--adc-lut", help="the read-out converter LUT (default ptm16hp/adc_sar6 on the LUT search path)"),
)
"""The LUTs a TD-MAC is composed from (``charz eval`` / ``check`` / ``train`` of this family)."""
LENGTH = Option("--length", type="int", default=16, help="FP8 pairs per scalar product (default 16)")
"""``--length`` of the TD-MAC commands."""
_OTHER_LUTS = "give --delay-lut / --tdc-lut / --acc-lut / --adc-lut"

BLOCK = Block(
    family="td_mac",
    kinds=TD_KINDS,
    summary="time-domain FP8 MAC: delay line, TDC, accumulation line, arbiter",
    params=("charz.blocks.td_mac.netlist:DelayLineParams", "charz.blocks.td_mac.netlist:TimeCmpParams",
            "charz.blocks.td_mac.netlist_tdc:MacTimeParams", "charz.blocks.td_mac.netlist_acc:AccParams"),
    recipe="charz.blocks.td_mac.recipe:characterize",
    plots="charz.blocks.td_mac.plots:plot_lut",
    golden=("charz.blocks.td_mac.netlist_tdc:golden_netlists",),
    options=(
        Option("--bits", type="int", kinds=(Kind.TD_DELAY, Kind.TD_TDC),
               help="exponent bits per line (default 4 = E4M3)"),
        Option("--length", type="int", kinds=(Kind.TD_TDC, Kind.TD_ACC),
               help="FP8 pairs per scalar product (default 16)"),
        Option("--window", type="int", kinds=(Kind.TD_TDC,),
               help="element-TDC taps = the largest exponent difference aligned (default 8)"),
        Option("--bias-trim", kinds=(Kind.TD_DELAY,), metavar="RATIOS",
               help="also run every corner at these starve-bias ratios r (vbn = r VDD, vbp = (1 - r) VDD; default "
                    "0.85), nominal and for the same Monte Carlo instances, for the per-line bias trim of the TD-MAC "
                    "(e.g. 0.75,0.8,0.85,0.9,0.95)"),
        Option("--t-step", type="number", kinds=(Kind.TD_DELAY,),
               help="maximum transient time step in s, e.g. 2p (default 1 ps; bench/README.md (k) measures what a "
                    "coarser step changes)"),
    ),
    model="charz.blocks.td_mac.model:TdMacModel",
    commands=(
        Command(verb="eval", name="td_mac", run="charz.blocks.td_mac.commands:eval_td",
                summary="digits MLP on the time-domain FP8 MAC",
                help="the digits MLP with every product on the time-domain FP8 MAC read from the td_* LUTs and a "
                     "read-out converter LUT, beside the published 22.1 TOPS/W (default VDD 0.8 V); --out adds the "
                     "mismatch sweep and the exponent- vs mantissa-path sensitivity study.",
                options=LUTS + (LENGTH, ADC_CALIBRATION, TRIM_LUT,
                                Option("--line-calibration", choices=("none", "bias"), default="none",
                                       help="'bias': every delay line gets a bias DAC and each chip locks every line's "
                                            "span (largest code minus code 0) to the nominal one, DLL-like, before it "
                                            "runs; needs a --delay-lut characterized with --bias-trim (default none)"),
                                Option("--bias-bits", type="int", default=5,
                                       help="bits of each line's bias DAC for --line-calibration bias (default 5)")),
                hints=(("--columns-per-adc", "one converter per engine"), ("--lut", _OTHER_LUTS),
                       ("--adc-bits", _OTHER_LUTS), ("--t-pulse", "it has no wordline pulse"))),
        Command(verb="check", name="td_mac", run="charz.blocks.td_mac.commands:check_td",
                summary="complete L-element FP8 scalar products",
                help="random FP8 vectors through the transistor-level time path (delay lines, latest detector, "
                     "TDCs) and the capacitor accumulation in ngspice, read out by the converter LUT, against the "
                     "behavioral model from the td_* LUTs and the exact FP8 result (minutes per vector at L = 16; "
                     "nominal only).",
                options=LUTS + (LENGTH,),
                hints=(("--mc", "it is nominal only"), ("--t-pulse", "it has no wordline pulse"),
                       ("--lut", _OTHER_LUTS))),
        Command(verb="train", name="td_mac", run="charz.blocks.td_mac.commands:train_td",
                summary="training in memory vs FP32",
                help="train the digits MLP with every product on the TD-MAC model (forward and backward products "
                     "in FP8 from the td_* LUTs) and in FP32 from the same init; writes the loss curves (PNG + "
                     "JSON), no weights.",
                options=LUTS + (LENGTH,
                                Option("--ideal", type="flag", help="exact FP8 instead of the circuit"),
                                Option("--epochs", type="int", help="epochs (default 20)"),
                                Option("--out", help="folder for the loss-curve PNG and JSON (default out/td_train)")),
                hints=(("--lut", _OTHER_LUTS),)),
    ),
)
