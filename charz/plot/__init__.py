"""Matplotlib figures written as PNG (Agg backend; no display needed)."""

import matplotlib

matplotlib.use("Agg")
