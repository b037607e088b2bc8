"""`charz demo`'s closing section on the shipped CNNs: each zoo model of ``demo.ZOO_RUNS`` runs on the column
LUT given (the demo passes the one it just characterized) with its middle layers on the ``cim`` backend,
writes its result files, and a model or dataset that is missing is named and skipped, not fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from charz import demo
from charz.core import pdk as pdkmod
from charz.core.errors import DataError
from charz.datasets import load

LUT = Path(__file__).resolve().parents[1] / "lut" / "ptm16hp" / "cim_column"


def _have(name: str) -> bool:
    try:
        load(name, "test", limit=1)
        return True
    except DataError:
        return False


def test_zoo_readout_runs_the_shipped_cnn_on_the_given_column_lut(tmp_path, monkeypatch):
    if not _have("fashion-mnist"):
        pytest.skip("Fashion-MNIST not installed (make setup installs dataset-fashion-mnist)")
    monkeypatch.setattr(demo, "ZOO_RUNS", (("cnn_fashion", "fashion-mnist", 12, 1),
                                           ("no_such_model", "fashion-mnist", 4, 1),
                                           ("lenet5", "no-such-dataset", 4, 1)))
    text, pngs = demo._zoo_readout(LUT, pdkmod.get("ptm16hp"), 1, tmp_path, 0)
    res = json.loads((tmp_path / "cnn_fashion" / "result.json").read_text())
    assert res["n_images"] == 12 and res["chips"] == 1
    backends = [row["backend"] for row in res["layers"]]
    assert backends[0] == backends[-1] == "digital" and set(backends[1:-1]) == {"cim"}
    # the middle layers really ran on the column LUT given: energy in the array, one evaluation per conversion
    mid = res["layers"][1]
    assert mid["column_evaluations_per_image"] > 0 and mid["energy_per_image_J"] > 0
    row = next(line for line in text.splitlines() if line.strip().startswith("cnn_fashion"))
    assert f"{100 * res['float_accuracy']:.2f} %" in row and f"{100 * res['accuracy_mean']:.2f} % (1 chip)" in row
    assert f"{res['energy_per_inference_J'] * 1e9:.2f} nJ" in row
    assert "no_such_model (not trained" in text and "lenet5 (no-such-dataset not found" in text
    assert pngs == [tmp_path / "cnn_fashion" / "energy_by_layer.png"] and pngs[0].stat().st_size > 1000
