"""Memorization-based inference (MBI) on MNIST looked up in the SRAM CAM model (charz.blocks.cam.model_mbi) and
``charz eval --network mbi``."""

import dataclasses
import json

import numpy as np
import pytest

from charz.blocks.cam import model_mbi as mb
from charz.blocks.cam.model import CamModel
from charz.core.errors import ParameterError
from charz.core.lut import find_default
from tests.helpers import charz, one_line_error

FLOOR = 0.70
"""MNIST test accuracy the ideal search must reach with G = 6, R = 32, 2000 training / 300 test images
(measured 0.84)."""


@pytest.fixture(scope="module")
def cam():
    return CamModel.from_lut(find_default("ptm16hp", "cam_sram16"))


@pytest.fixture(scope="module")
def data():
    from charz.datasets import load

    return load("mnist", "train", limit=2000), load("mnist", "test", limit=300)


@pytest.fixture(scope="module")
def tables(data):
    tr, _ = data
    return mb.fit_mbi(tr.images, tr.labels, glimpses=6, rows=32)


def test_key_of_a_hand_made_image_is_exact():
    img = np.zeros((1, 28, 28), dtype=np.uint8)
    # glimpse at (4, 8): an 8 x 8 patch, 2 x 2 pooling cells (pr, pc), bit pr * 4 + pc
    img[0, 4, 8] = 255          # cell (0, 0)
    img[0, 5 + 2, 9 + 4] = 200  # cell (1, 2)
    img[0, 11, 15] = 128        # cell (3, 3), just above the threshold 127
    img[0, 10, 8] = 127         # cell (3, 0): at the threshold, not set
    img[0, 4, 16] = 255         # outside the patch (column 16)
    k = mb.glimpse_keys(img, [(4, 8)])
    want = np.zeros(16, dtype=np.uint8)
    want[[0, 1 * 4 + 2, 15]] = 1
    assert k.shape == (1, 1, 16) and np.array_equal(k[0, 0], want)
    assert np.array_equal(mb.unpack(mb.pack(want)), want)
    assert mb.glimpse_keys(img[..., None], [(4, 8)]).tolist() == k.tolist()  # (N, H, W, 1) as well
    with pytest.raises(ParameterError):
        mb.glimpse_keys(img, [(24, 0)])


def test_clustering_gives_at_most_r_rows(data):
    tr, _ = data
    keys = mb.glimpse_keys(tr.images, [(12, 12)])[:, 0]
    for r in (1, 5, 32):
        c = mb.cluster_keys(keys, r)
        assert c.size == r == np.unique(c).size  # enough distinct patterns: exactly R distinct rows
    few = np.array([[0] * 16, [1] * 16, [0] * 16], dtype=np.uint8)
    assert sorted(mb.cluster_keys(few, 8).tolist()) == [0, 65535]  # fewer patterns than rows


def test_tables_classify_their_training_glimpses_and_mnist(cam, data, tables):
    tr, te = data
    assert tables.keys.shape == (6, 32, 16) and tables.values.shape == (6, 32, 10)
    assert len({tuple(x) for x in tables.locations.tolist()}) == 6
    assert tables.train_accuracy[-1] > 0.5  # chance: 0.1
    assert all(b >= a - 0.02 for a, b in zip(tables.train_accuracy, tables.train_accuracy[1:]))
    first = mb.infer(cam, tables.first(1), tr.images)
    assert np.mean(first["pred"] == tr.labels) > 0.2
    ideal = mb.infer(cam, tables, te.images)
    assert ideal["nearest_ok"] == 1.0
    # the nominal chip's winner is the exact Hamming-nearest row (lowest index on ties)
    q = mb.glimpse_keys(te.images, tables.locations)
    for g in range(tables.glimpses):
        d = cam.distances(tables.keys[g], q[:, g])
        assert np.array_equal(ideal["winners"][:, g], np.argmin(d, axis=1))
    assert np.mean(ideal["pred"] == te.labels) > FLOOR


def test_chips_run_are_reproducible_and_reduce_to_ideal(cam, data, tables):
    _, te = data
    a = mb.evaluate_mbi(cam, tables, te.images, te.labels, chips=2, seed=3)
    b = mb.evaluate_mbi(cam, tables, te.images, te.labels, chips=2, seed=3)
    assert a["chip_accuracy"] == b["chip_accuracy"] and a["chip_energy_J"] == b["chip_energy_J"]
    assert all(0.1 < x <= 1 for x in a["chip_accuracy"])
    zero = mb.evaluate_mbi(cam.with_mismatch_scale(0), tables, te.images, te.labels, chips=2, seed=3)
    assert zero["chip_accuracy"] == [zero["ideal_accuracy"]] * 2
    assert zero["ideal_accuracy"] == a["ideal_accuracy"]


def test_energy_is_linear_in_glimpses_and_rows(cam, data):
    tr, te = data
    flat = dataclasses.replace(cam, energy_row=np.full(cam.n_bits + 1, 7e-15))
    img = te.images[:50]

    def energy(g, r):
        t = mb.fit_mbi(tr.images[:500], tr.labels[:500], glimpses=g, rows=r)
        e = mb.infer(flat, t, img)
        assert e["search_J"] == pytest.approx(g * r * 7e-15)
        assert e["accumulate_J"] == pytest.approx((10 * (g - 1) + 9) * mb.ADD_J)
        assert e["value_read_J"] == pytest.approx(g * 10 * 8 * mb.VALUE_READ_J_PER_BIT)
        return e["energy_J"]

    eg = [energy(g, 16) for g in (2, 4, 6)]
    assert eg[2] - eg[1] == pytest.approx(eg[1] - eg[0]) and eg[1] > eg[0]
    er = [energy(3, r) for r in (8, 16, 24)]
    assert er[2] - er[1] == pytest.approx(er[1] - er[0]) and er[1] > er[0]
    # with the LUT's own energies: more rows, more search energy
    t = mb.fit_mbi(tr.images[:500], tr.labels[:500], glimpses=2, rows=32)
    assert mb.infer(cam, t, img)["search_J"] > mb.infer(cam, t.first(1), img)["search_J"]


def test_cli_runs_on_small_counts(tmp_path):
    r = charz("eval", "--network", "mbi", "--glimpses", "3", "--rows", "16", "--train-images", "500",
              "--test-images", "100", "--chips", "2", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "accuracy, ideal search" in out and "accuracy, 2 chips" in out
    assert "3 searches, 48 row compares" in out and "ASSUMED 30 fJ per 8-bit add" in out
    res = json.loads((tmp_path / "mbi_eval.json").read_text())
    assert res["glimpses"] == 3 and [s["rows"] for s in res["sweep_rows"]] == [4, 8, 16, 32, 64]
    assert (tmp_path / "mbi_accuracy_energy_vs_rows.png").stat().st_size > 1000


def test_compare_charges_the_sar_converter_on_the_mlp(monkeypatch):
    """``--compare`` holds the MLP with every layer on cim; its columns read out by the SAR 5-bit LUT with trim
    cost one conversion per column evaluation (tiles x outputs x 8 activation planes x 14 weight slices) at the
    converter model's energy per conversion, on top of the same array energy as the ideal quantizer's run."""
    from charz.blocks.cam import commands as cc
    from charz.network.backends import column_model

    mlp = next(c for c in cc.COMPARE if c[0] == "mlp_mnist")
    assert mlp[1:3] == ("mnist", "same") and "MLP" in mlp[3] and "every layer on cim" in mlp[3]
    assert {c[0] for c in cc.COMPARE} >= {"mlp_mnist", "lenet5", "resnet20"} and cc.COMPARE_IMAGES == 20
    monkeypatch.setattr(cc, "COMPARE", (mlp,))
    [row] = cc.compare_cim(seed=0)
    adc = str(find_default("ptm16hp", "adc_sar5"))
    assert row["adc_lut"] == adc and row["calibration"] == "trim" and row["images"] == 20
    conversions = sum(-(-k // 16) * n * 8 * 2 * 7 for k, n in ((784, 256), (256, 128), (128, 10)))
    iq = row["ideal_quantizer"]
    assert row["conversions_per_inference"] == iq["conversions_per_inference"] == conversions
    dig = column_model({"adc_lut": adc, "calibration": "trim"})[0].quantizer
    assert dig.bits == 5 and 10e-15 < dig.energy < 200e-15 and 0 < dig.trim_energy < dig.energy
    comp, comp_iq = row["energy_by_component_J"], iq["energy_by_component_J"]
    assert comp["readout"] == pytest.approx(conversions * dig.energy, rel=1e-9)
    assert comp_iq["readout"] == 0.0 and comp.get("digital", 0.0) == 0.0  # every layer on the column
    assert comp["array"] == pytest.approx(comp_iq["array"], rel=0.05) and comp["array"] > 0
    assert row["energy_per_inference_J"] == pytest.approx(comp["array"] + comp["readout"], rel=1e-9)
    assert row["energy_per_inference_J"] > 10 * iq["energy_per_inference_J"]  # conversions dominate
    assert row["chip_accuracy"] >= 0.85 and iq["chip_accuracy"] >= 0.85
    text = cc.format_compare({"energy_J": 100e-12, "value_read_J": 90e-12, "compare": [row]})
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.strip().startswith("MLP"))
    assert "adc_sar5 trim" in lines[i] and f"{row['energy_per_inference_J'] / 100e-12:.1f}x" in lines[i]
    assert f"{row['energy_per_inference_J'] / 10e-12:.1f}x" in lines[i]
    assert "ideal q." in lines[i + 1] and f"{iq['energy_per_inference_J'] / 100e-12:.1f}x" in lines[i + 1]
    assert adc in text and "calibration trim" in text and "2.7x / 83x" in text


@pytest.mark.parametrize("args, needle, code", [
    (("--rows", "65"), "--rows 65 is not allowed", 2),
    (("--glimpses", "0"), "--glimpses 0 is not allowed", 2),
    (("--train-images", "10"), "--train-images 10 is not allowed", 2),
    (("--mismatch", "-1"), "--mismatch -1.0 is not allowed", 2),
    (("--adc-bits", "4"), "--adc-bits applies to", 2),
    (("--lut", "/nonexistent/cam"), "not found", None),
])
def test_cli_bad_options_are_one_line(args, needle, code):
    r = charz("eval", "--network", "mbi", *args)
    assert needle in one_line_error(r, code)
