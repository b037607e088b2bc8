"""Fixed instants of the bit-plane CiM column cycle: shared constants of the column generator
(:func:`charz.blocks.cim_column.netlist.timeline` places the precharge release and the wordline edge with them)
and of the network's timing model (:func:`charz.network.timing.column_timing`, which reads them from a
``cim_column`` LUT's conditions ``t_release`` / ``t_gap`` when the LUT records them and uses these
values otherwise). They sit at the package top because the netlist stage and the network stage may both
import them but not each other (docs/ARCHITECTURE.md, "One flow, five stages"; ``tests/test_stages.py``).
"""

from __future__ import annotations

T_RELEASE = 10e-12
"""When the precharge clock starts to rise (release)."""
T_GAP = 10e-12
"""Gap between the end of the release edge and the start of the wordline edge."""
