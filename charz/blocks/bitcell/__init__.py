"""6T / 8T SRAM bitcells: hold / read / write static noise margins (butterfly curves), read current,
leakage, write time, with Monte Carlo (``charz characterize bitcell6t|bitcell8t``)."""

from ...core.lut import Kind
from ..base import Block, Option

SIZE = Option("--size", type="list", metavar="NAME=VALUE",
              help="override a cell size in metres (repeatable): w_pu, w_pd, w_ax, w_rd, w_ra, l, l_read; e.g. "
                   "--size w_pd=96n --size l_read=16n (default: multiples of the PDK's Lmin). Ranges: widths "
                   "Lmin..200 x Lmin and at most 100u, lengths Lmin..20 x Lmin and at most 10u (ptm16hp: widths "
                   "16n..3.2u, lengths 16n..320n)")
BETA_MISMATCH = Option("--beta-mismatch", type="flag",
                       help="Monte Carlo also draws current-factor mismatch (mulu0, A_beta of the manifest)")

BLOCK = Block(
    family="bitcell",
    kinds=(Kind.BITCELL6T, Kind.BITCELL8T),
    summary="6T / 8T SRAM bitcells: SNM (butterfly), read current, leakage, write time",
    params=("charz.blocks.bitcell.netlist:BitcellParams", "charz.netlist.cells:CellSizes"),
    recipe="charz.blocks.bitcell.recipe:characterize",
    plots="charz.blocks.bitcell.plots:plot_lut",
    golden=("charz.blocks.bitcell.netlist:golden_netlists",),
    options=(SIZE, BETA_MISMATCH),
)
