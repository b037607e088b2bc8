"""The block families, one folder each, and :data:`REGISTRY`, the one list of them that the command line,
the demo, ``charz netlist`` and ``charz plot`` read (no block name is written anywhere else).

A family folder holds ``__init__.py`` (its :class:`~charz.blocks.base.Block` declaration) and one module
per stage, named after it: ``netlist*.py`` (generators), ``recipe*.py`` / ``check*.py`` (measurements in
ngspice), ``model*.py`` (behavior fed by its LUTs), ``plots*.py`` (figures), ``commands.py`` (its network
commands, if any). ``README.md`` in this folder is the checklist for adding one.
"""

from . import adc, bitcell, cam, cim_column, comparator, dcim, td_mac, wht
from .base import Block, Registry

REGISTRY = Registry([
    bitcell.BLOCK,
    cim_column.BLOCK,
    comparator.BLOCK,
    adc.BLOCK,
    wht.BLOCK,
    td_mac.BLOCK,
    cam.BLOCK,
    dcim.BLOCK,
])
"""Every block family, in the order ``charz characterize`` lists their kinds."""

__all__ = ["REGISTRY", "Block", "Registry"]
