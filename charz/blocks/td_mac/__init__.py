"""The time-domain FP8 MAC (TimeFloats-style), composed from block LUTs: delay line per exponent code, TDC,
charge accumulation line and arbiter (``charz characterize td_delay|td_tdc|td_acc|td_arbiter``)."""

from ...core.lut import TD_KINDS, Kind
from ..base import Block, Option

BLOCK = Block(
    family="td_mac",
    kinds=TD_KINDS,
    summary="time-domain FP8 MAC: delay line, TDC, accumulation line, arbiter",
    params=("charz.blocks.td_mac.netlist:DelayLineParams", "charz.blocks.td_mac.netlist:TimeCmpParams",
            "charz.blocks.td_mac.netlist:MacTimeParams", "charz.blocks.td_mac.netlist:AccParams"),
    recipe="charz.blocks.td_mac.recipe:characterize",
    plots="charz.blocks.td_mac.plots:plot_lut",
    golden=("charz.blocks.td_mac.netlist:golden_netlists",),
    options=(
        Option("--bits", type="int", kinds=(Kind.TD_DELAY, Kind.TD_TDC),
               help="exponent bits per line (default 4 = E4M3)"),
        Option("--length", type="int", kinds=(Kind.TD_TDC, Kind.TD_ACC),
               help="FP8 pairs per scalar product (default 16)"),
        Option("--window", type="int", kinds=(Kind.TD_TDC,),
               help="element-TDC taps = the largest exponent difference aligned (default 8)"),
    ),
    model="charz.blocks.td_mac.model:TdMacModel",
)
