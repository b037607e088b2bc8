"""SRAM ternary CAM row on a NOR match line: match-line voltage at the sense instant against the number of
mismatching bits, the sense amplifier's match flag, search energy and their Monte Carlo spread
(``charz characterize cam_sram``); its model runs vectorized nearest-key searches fed by the LUT. The MTJ
analog CAM cell (``charz characterize cam_mtj``): match-window edges against the programmed MTJ states,
their spread and the energy per search; :mod:`charz.blocks.cam.model_mtj` looks analog inputs up in rows
of windows."""

from ...core.lut import Kind
from ..base import Block, Command, Option
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
             Option("--size", type="list", metavar="NAME=VALUE", kinds=(Kind.CAM_MTJ,),
                    help="a transistor size in metres (repeatable): w_invn, w_invp, l_inv (the input "
                         "inverters, whose mismatch sets the windows' spread), w_pd, l_pd, w_en, w_pre; e.g. "
                         "--size l_inv=256n (default: multiples of the PDK's Lmin)"),
             BETA_MISMATCH),
    model="charz.blocks.cam.model:CamModel",
    commands=(
        Command(verb="eval", name="mbi", run="charz.blocks.cam.commands:eval_mbi",
                summary="memorization-based inference on MNIST in the SRAM CAM",
                help="memorization-based inference on MNIST: G glimpses (8x8 patches at locations chosen greedily on "
                     "the training images, 16-bit keys), each looked up by a nearest-key search in a table of R rows "
                     "(k-modes clusters, values = log class-probabilities) on the SRAM CAM model of a cam_sram LUT; "
                     "accuracy ideal vs chips, lookups and the energy per inference (searches from the LUT, value "
                     "reads and adds at stated assumed energies); --compare adds an MLP, LeNet-5 and ResNet-20 on "
                     "the CiM column read out by the SAR 5-bit converter LUT (trim) beside the published 2.7x / 83x; "
                     "--out adds the accuracy / energy vs R PNG.",
                options=(Option("--lut", help="cam_sram LUT path with W = 16 (default ptm16hp/cam_sram16 on the LUT "
                                              "search path)"),
                         Option("--glimpses", type="int", default=8, help="glimpses per image G, 1..36 (default 8)"),
                         Option("--rows", type="int", default=64, help="rows per glimpse table R, 1..64 (default 64)"),
                         Option("--train-images", type="int", default=10000,
                                help="MNIST training images the tables are fitted on, 100..60000 (default 10000)"),
                         Option("--test-images", type="int", default=2000,
                                help="MNIST test images evaluated, 1..10000 (default 2000)"),
                         Option("--compare", type="flag",
                                help="also run an MLP and LeNet-5 (MNIST) and ResNet-20 (CIFAR-10) on the cim backend "
                                     "(20 images, 1 chip), columns read out by the SAR 5-bit converter LUT with "
                                     "calibration trim and by the ideal quantizer, for their energy per inference"))),
    ),
)
"""SRAM CAM row (see :mod:`charz.blocks.cam.netlist` for the circuit, :mod:`charz.blocks.cam.recipe` for the
measurements and the LUT contract, :mod:`charz.blocks.cam.model` for the search model) and MTJ analog CAM cell
(:mod:`charz.blocks.cam.netlist_mtj`, :mod:`charz.blocks.cam.recipe_mtj`, :mod:`charz.blocks.cam.model_mtj`)."""
