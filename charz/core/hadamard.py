"""Hadamard matrices: shared pure math (NumPy only) used by the WHT crossbar generator
(:mod:`charz.blocks.wht.netlist`: a cell's sign is the wiring of H[r, j]) and by the WHT model and
network (:mod:`charz.blocks.wht.model`, :mod:`charz.network.wht`). It sits at the package top, beside
``grid.py`` and ``validate.py``, because the netlist stage and the behavioural stage may both import it
but not each other (docs/ARCHITECTURE.md, "One flow, five stages"; ``tests/test_stages.py``).
"""

from __future__ import annotations

import numbers

import numpy as np

from .errors import ParameterError

ORDERS = ("sylvester", "sequency")
"""Row orderings of :func:`hadamard`."""


def hadamard(n: int, order: str = "sylvester") -> np.ndarray:
    """The n x n +-1 Hadamard matrix (n a power of two), Sylvester (natural) or sequency (Walsh) order:
    sequency order sorts the Sylvester rows by their number of sign changes (0, 1, ..., n-1)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1 or (n & (n - 1)):
        raise ParameterError(f"a Hadamard matrix needs a power-of-two size, got {n!r}")
    if order not in ORDERS:
        raise ParameterError(f"unknown Hadamard ordering {order!r}: choose one of {', '.join(ORDERS)}")
    h = np.ones((1, 1), dtype=np.int64)
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    if order == "sequency":
        changes = np.sum(h[:, 1:] != h[:, :-1], axis=1)
        h = h[np.argsort(changes, kind="stable")]
    return h
