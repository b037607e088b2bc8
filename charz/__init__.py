"""charz: SPICE-backed characterization of compute-in-memory circuits.

The flow is BlockSpec -> netlist -> ngspice -> measurements -> LUT -> behavioral model -> network.
See docs/ARCHITECTURE.md.
"""

__version__ = "0.1.0"
