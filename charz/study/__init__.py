"""Published methods on the executor (``charz study METHOD``): each a module with ``add_arguments(parser)``
and ``run(args) -> int`` (the command) beside its library functions. Adding one: a module here and a line in
:data:`METHODS`."""

METHODS = {
    "polarization": ("charz.study.polarization_cli", "neural precision polarization: a low-precision main path on "
                                                     "the CiM column plus low-rank digital recovery paths"),
    "dub": ("charz.study.dub_cli", "D.U.B. crossbar-attuned pruning: fewer converter bits per crossbar, beside "
                                   "magnitude pruning (PyTorch)"),
    "hcim": ("charz.study.hcim_cli", "HCiM: ADC-less ternary partial sums with trained scale factors, beside the "
                                     "converter read-out (PyTorch)"),
    "macam": ("charz.study.macam_cli", "MACAM: ReLUs fused with the A/D conversion in the MTJ analog CAM, assigned "
                                       "per channel against the converter read-out under energy budgets"),
}
"""Method name -> (its command module, a one-line summary)."""
