"""MACAM read-out (charz.blocks.cam.model_macam) and its study on the executor (charz.study.macam, ``charz study
macam``): the lookup is the CAM model's, the designs and energies add up, the search moves only where it saves."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from charz.blocks.adc.model import DigitizerModel
from charz.blocks.cam import model_macam as mm
from charz.blocks.cam.model_mtj import MtjCamModel, MtjChip
from charz.core.errors import ParameterError
from charz.core.lut import LUT
from helpers import charz, one_line_error

CAM = "lut/ptm16hp/cam_mtj"
SAR5 = "lut/ptm16hp/adc_sar5"


@pytest.fixture(scope="module")
def cams():
    return {s: MtjCamModel.from_lut(CAM, mismatch_scale=s) for s in (0.0, 1.0)}


@pytest.fixture(scope="module")
def z():
    rng = np.random.default_rng(3)
    return rng.normal(-0.5, 1.5, 6000)


def test_the_read_out_is_the_cam_lookup_with_priority_to_the_lowest_row_and_zero_when_nothing_matches(cams, z):
    cam = cams[1.0]
    d = mm.design(cam, z, 8)
    arrays = mm.draw_arrays(cam, d, 5, np.random.default_rng(0))
    zz = np.random.default_rng(1).normal(0, 3, (400, 5))
    vals, c = mm.macam_read(cam, d, arrays, zz)
    energy = 0.0
    for i in range(5):
        r = cam.lookup(d.voltage(zz[:, i]), MtjChip(arrays.lo[i], arrays.hi[i], d.states), np.arange(d.codes))
        assert np.array_equal(vals[:, i], d.values[np.where(r.code < 0, 0, r.code)])
        energy += r.energy.sum()
    assert c["energy_J"] == pytest.approx(energy, rel=1e-12)
    # the driver's clamps keep every input inside some row's window on these arrays
    assert c["searches"] == zz.size and c["no_match"] == 0 and c["several"] > 0
    # the encoder itself: the lowest matching row wins, nothing matching reads code 0
    lo, hi = np.array([[0.80, 0.85, 0.95]]), np.array([[0.90, 1.00, 1.10]])
    code, n = mm.read_codes(np.array([0.70, 0.82, 0.87, 0.92, 0.97, 1.05, 1.20])[:, None], lo, hi)
    assert code.ravel().tolist() == [0, 0, 0, 1, 1, 2, 0] and n.ravel().tolist() == [0, 1, 2, 1, 2, 1, 0]
    # one search costs every row: between K x the cheaper and K x the dearer cell energy
    lo, hi = sorted((cam.energy_match, cam.energy_mismatch))
    assert d.codes * lo * zz.size <= c["energy_J"] <= d.codes * hi * zz.size


def test_nominal_windows_give_every_level_and_the_spread_costs_levels_or_error(cams, z):
    nom = mm.design(cams[0.0], z, 8)
    # ptm16hp cam_mtj: 7 distinct upper-edge levels, 5 of them above the lowest lower edge -> 6 rows
    assert nom.codes == 6
    assert nom.values[0] == 0 and np.all(np.diff(nom.values) > 0)
    assert nom.mse == pytest.approx(nom.mse_nominal, rel=0.01)   # the search reads codes on a 1024-point grid
    assert nom.mse <= nom.mse_ideal * 1.1          # stored values beat a uniform 6-level ReLU of the same range
    assert nom.mse < 0.05 * np.mean(np.maximum(z, 0) ** 2)
    mc = mm.design(cams[1.0], z, 8)
    assert mc.mse > 2 * nom.mse and mc.mse > mc.mse_nominal
    assert mm.design(cams[0.0], z, 3).codes == 3
    with pytest.raises(ParameterError, match="max_codes"):
        mm.design(cams[0.0], z, 1)
    with pytest.raises(ParameterError, match="positive"):
        mm.design(cams[0.0], -np.abs(z), 4)


def test_negative_inputs_read_zero_and_large_ones_the_top_value_on_nominal_arrays(cams, z):
    d = mm.design(cams[0.0], z, 8)
    arr = mm.nominal_arrays(cams[0.0], d, 1)
    v, c = mm.macam_read(cams[0.0], d, arr, np.array([[-50.0], [-0.2], [1e3]]))
    assert v[:, 0].tolist() == [0.0, 0.0, d.values[-1]]
    assert d.voltage(1e3) == pytest.approx(d.v_top) and d.voltage(-1e3) == pytest.approx(d.v_bot)
    # the clamps sit inside the outermost windows by at least the merge margin
    assert d.v_bot >= cams[0.0].edge_lo.min() + mm.MERGE_V - 1e-12
    assert d.v_top <= cams[0.0].edge_hi.max() - mm.MERGE_V + 1e-12


def test_the_digital_read_out_is_the_relu_of_the_converter_code():
    conv = DigitizerModel.from_lut(LUT.load(SAR5), reference="lut")
    zz = np.linspace(-3, 5, 200)
    a = mm.AdcReadout.fit(conv, zz, act_J=20e-15)
    assert a.z_lo < -2.99 and a.z_hi > 4.99
    v, c = a.read(None, zz[:, None])
    want = np.maximum(a.value(conv.codes(a.voltage(zz))), 0)
    assert np.array_equal(v[:, 0], want)
    assert np.max(np.abs(v[:, 0] - np.maximum(zz, 0))) < (a.z_hi - a.z_lo) / 32   # within one 5-bit step
    assert c["energy_J"] == pytest.approx(200 * (conv.energy + 20e-15))


@pytest.fixture(scope="module")
def lenet():
    from charz.datasets import load
    from charz.network import engine as en
    from charz.network.mapping import default_mapping
    from charz.network.model_report import find_model
    from charz.study import macam as mc

    test, fit = load("mnist", "test", limit=60), load("mnist", "train", limit=96)
    m = default_mapping("exact", "same")
    kw = dict(calib_images=fit.images[:64], calib_count=64)
    plan, _ = en.make_plan(str(find_model("lenet5")), test.images, test.labels, m, **kw)
    vplan = dataclasses.replace(plan, images=fit.images[64:], labels=fit.labels[64:])
    cplan = dataclasses.replace(plan, images=fit.images[:64], labels=fit.labels[:64])
    fused, skipped = mc.fused_layers(plan)
    return plan, vplan, fused, skipped, mc.capture(cplan, fused)


def test_the_relus_of_lenet5_are_fused_with_their_biases_and_the_logits_are_not(lenet):
    plan, _, fused, skipped, z = lenet
    assert list(fused) == ["/0/Conv", "/3/Conv", "/7/Gemm", "/9/Gemm"]
    assert skipped == {"/11/Gemm": "no ReLU after it"}
    init = plan.graph.initializers
    conv = plan.graph.node("/0/Conv")
    assert np.array_equal(fused["/0/Conv"].bias, np.asarray(init[conv.inputs[2]], float))
    assert all(z[n].shape[1] == plan.layers[n].N for n in fused)
    # the captured pre-activations are the bias-added products: ReLU of them is the model's activation
    assert all(np.any(z[n] < 0) and np.any(z[n] > 0) for n in fused)


def test_resnet20s_residual_relus_are_not_fused():
    from charz.network import engine as en
    from charz.network.mapping import default_mapping
    from charz.network.model_report import find_model
    from charz.study import macam as mc

    imgs = np.zeros((2, 32, 32, 3), np.uint8)
    plan, _ = en.make_plan(str(find_model("resnet20")), imgs, np.zeros(2, np.int64), default_mapping("exact", "same"),
                           calib_count=2)
    fused, skipped = mc.fused_layers(plan)
    assert len(fused) == 10 and len(fused) + len(skipped) == len(plan.layers)
    assert sum(v == "followed by Add, not Relu" for v in skipped.values()) >= 9


def test_energies_add_up_and_the_search_moves_only_where_it_saves(cams, lenet):
    from charz.study import macam as mc

    plan, vplan, fused, _, z = lenet
    conv = DigitizerModel.from_lut(LUT.load(SAR5), reference="lut")
    ro = mc.Readouts.build(cams[0.0], conv, fused, z, 8, 30e-15)
    outs = sum(plan.layers[n].positions * plan.layers[n].N for n in fused)
    dig = mc.run_assignment(plan, ro, {}, ["nominal"])
    assert dig["readout_energy_J"]["readout_adc"] == pytest.approx(outs * conv.energy)
    assert dig["readout_energy_J"]["readout_act"] == pytest.approx(outs * 30e-15)
    full = {n: np.ones(plan.layers[n].N, bool) for n in fused}
    ana = mc.run_assignment(plan, ro, full, ["nominal"])
    assert set(ana["readout_energy_J"]) == {"readout_macam"}
    assert ana["counters"]["macam_searches"] == outs * plan.n_images
    per = ro.energy_per_output()
    assert ana["readout_energy_total_J"] == pytest.approx(sum(plan.layers[n].positions * plan.layers[n].N * per[n][0]
                                                              for n in fused), rel=0.02)
    # nominal 6-row windows keep LeNet-5 near its exact accuracy
    ideal = __import__("charz.network.engine", fromlist=["run_chip"]).run_chip(plan, "ideal")["accuracy"]
    assert ana["accuracy_mean"] >= ideal - 0.1 and dig["accuracy_mean"] >= ideal - 0.05
    # the same chip whatever the assignment: drawing twice gives the same arrays
    a, b = ro.chip(3), ro.chip(3)
    assert all(np.array_equal(a[n][0].lo, b[n][0].lo) for n in fused)
    order = mc.channel_order(ro, z, draws=2)
    assert all(sorted(order[n].tolist()) == list(range(plan.layers[n].N)) for n in fused)
    path = mc.supermix(vplan, ro, order, 1, [10_000])
    e = [p["readout_energy_total_J"] for p in path]
    assert path[0]["steps"] == {n: 0 for n in fused} and all(np.diff(e) < 0)
    assert all(sum(q["steps"].values()) == sum(p["steps"].values()) + 1 for p, q in zip(path, path[1:]))
    best = mc.pick(path, 0.9)
    assert best is not None and best["readout_energy_total_J"] <= 0.9 * e[0]
    assert mc.pick(path, 1e-6) is None


def test_the_command_checks_its_options_before_running(tmp_path):
    base = ("study", "macam", "--model", "lenet5", "--dataset", "mnist", "--out", str(tmp_path / "a"))
    for extra, what in ((("--set", "x_bits=4"), "--set"), (("--budget", "1.5"), "--budget"),
                        (("--max-codes", "1"), "--max-codes"), (("--mismatch", "-1"), "--mismatch"),
                        (("--act-energy", "nan"), "--act-energy"), (("--spread", "0,-1"), "--spread"),
                        (("--adc", "adc_sar9"), "adc_sar9")):
        r = charz(*base, *extra)
        assert what in one_line_error(r)
    assert not (tmp_path / "a").exists()


def test_a_small_study_writes_its_tables_and_figures(tmp_path):
    out = tmp_path / "s"
    r = charz("study", "macam", "--model", "lenet5", "--dataset", "mnist", "--out", str(out), "--images", "40",
              "--chips", "2", "--val-images", "20", "--calib-images", "32", "--groups", "1", "--adc", "adc_sar5",
              "--budget", "0.5,0.9", "--mismatch", "0.5", "--verify")
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "result.json").read_text())
    b = res["baselines"][0]
    labels = [x["label"] for x in b["runs"]]
    assert labels[:2] == ["all digital", "all MACAM"]
    assert len(b["search_path"]) == 5        # all digital, then the four fused layers one at a time
    assert b["runs"][0]["saving"] == 0 and b["runs"][1]["saving"] == pytest.approx(b["all_macam_saving"])
    assert all(len(x["accuracy_per_chip"]) == 2 for x in b["runs"])
    assert res["verify"] and all(f["design"]["verify"] for f in res["fused"].values())
    md = (out / "study.md").read_text()
    assert "rows programmed and verified" in md and "| all MACAM |" in md and "Published: over 60 %" in md
    assert (out / "macam_tradeoff.png").stat().st_size > 10_000 and (out / "macam_transfer.png").stat().st_size > 10_000
    again = charz("study", "macam", "--model", "lenet5", "--dataset", "mnist", "--out", str(out))
    assert "--force" in one_line_error(again)


def test_program_and_verify_narrows_the_upper_edges_and_the_design_sees_it(cams, z):
    cam = cams[1.0]
    plain, ver = mm.design(cam, z, 8), mm.design(cam, z, 8, verify=True)
    assert ver.verify and not plain.verify and ver.targets.shape == (ver.codes,)
    assert ver.mse < plain.mse
    a = mm.draw_arrays(cam, ver, 400, np.random.default_rng(2))
    b = mm.draw_arrays(cam, dataclasses.replace(ver, verify=False), 400, np.random.default_rng(2))
    # verified rows sit near their targets: the spread of every row below the top halves or better
    assert np.all(a.hi.std(axis=0)[:-1] < 0.65 * b.hi.std(axis=0)[:-1])
    assert np.all(np.abs(a.hi.mean(axis=0)[:-1] - ver.targets[:-1]) < 0.01)
    # the lower edges are not touched: the same cells, the same programmed lower state
    np.testing.assert_array_equal(a.lo, b.lo)
