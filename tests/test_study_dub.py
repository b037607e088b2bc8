"""D.U.B. crossbar-attuned pruning (charz.study.dub, dub_train): the mask's three properties, converter bits that
follow the active rows, the balance regularizer, energy from the LUTs, the read-out's reduced full scale, and a
short fine-tuning in PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from charz.core.errors import ParameterError
from charz.study import dub
from charz.network.zoo import MODELS_DIR
from helpers import charz, one_line_error

LENET5 = MODELS_DIR / "lenet5.onnx"

ROWS = 16


def test_crossbars_cut_the_rows_as_the_column_maps_them():
    w = np.arange(1, 41, dtype=float).reshape(20, 2)
    xb = dub.crossbars(w, ROWS)
    assert xb.shape == (2, ROWS, 2)
    np.testing.assert_array_equal(xb[0], w[:16])
    np.testing.assert_array_equal(xb[1, :4], w[16:]) and np.testing.assert_array_equal(xb[1, 4:], 0)
    np.testing.assert_array_equal(dub.column_counts(w, ROWS), [[16, 16], [4, 4]])


@pytest.mark.parametrize("keep,bits", [(16, 5), (8, 4), (4, 3), (2, 2), (1, 1)])
def test_the_dub_mask_is_discrete_unstructured_balanced_and_sets_the_bits(keep, bits):
    rng = np.random.default_rng(keep)
    w = rng.normal(size=(70, 12))
    m = dub.dub_mask(w, ROWS, keep)
    c = dub.column_counts(m, ROWS)
    assert np.all(c[:-1] == keep)  # every full crossbar: exactly keep per column (balanced, discrete)
    assert np.all(c[-1] == min(keep, 70 - 64))  # the last crossbar has 6 rows
    # unstructured: each column keeps its own largest |w|, the kept rows differ between columns
    xb = np.abs(dub.crossbars(w, ROWS))
    mb = dub.crossbars(m.astype(float), ROWS).astype(bool)
    for t in range(xb.shape[0] - 1):
        for j in range(12):
            assert xb[t][mb[t][:, j], j].min() >= xb[t][~mb[t][:, j], j].max() if keep < ROWS else True
    if keep < ROWS:
        assert len({tuple(np.flatnonzero(mb[0][:, j])) for j in range(12)}) > 1
    assert dub.crossbar_bits(m, ROWS)[0] == bits == int(np.ceil(np.log2(keep + 1)))
    with pytest.raises(ParameterError, match="power of two"):
        dub.dub_mask(w, ROWS, 3)


def test_magnitude_pruning_leaves_crossbars_at_full_resolution():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(160, 64))
    for keep in (8, 4, 2):
        mm = dub.magnitude_mask(w, 1 - keep / ROWS)
        assert mm.mean() == pytest.approx(keep / ROWS, abs=1e-3)
        md = dub.dub_mask(w, ROWS, keep)
        assert md.sum() == mm.sum()  # the same sparsity
        # some column of every crossbar holds more than keep weights: at least D.U.B.'s bits, more below 8 / 16
        assert np.all(dub.column_counts(mm, ROWS).max(axis=1) > keep)
        assert np.all(dub.crossbar_bits(mm, ROWS) >= dub.crossbar_bits(md, ROWS))
        if keep < 8:
            assert dub.crossbar_bits(mm, ROWS).mean() > dub.crossbar_bits(md, ROWS).mean()
    with pytest.raises(ParameterError, match="sparsity"):
        dub.magnitude_mask(w, 1.0)


def test_the_balance_term_is_zero_for_equal_columns_and_grows_with_their_spread():
    w = np.zeros((32, 4))
    w[:8, :] = 1.0  # every column 8 large weights in crossbar 0
    assert dub.l0_variance(w, ROWS, 1e-3) == pytest.approx(0.0)
    np.testing.assert_allclose(dub.l0_proxy(w, ROWS, 1e-3), [[8] * 4, [0] * 4], atol=1e-9)
    w[:16, 0] = 1.0  # one column dense
    assert dub.l0_variance(w, ROWS, 1e-3) == pytest.approx(np.var([16, 8, 8, 8]))


def test_converter_energy_takes_each_crossbars_lut_and_floors_to_the_smallest():
    e = {3: 10e-15, 4: 20e-15, 5: 40e-15}
    assert dub.converter_energy(np.array([5, 4, 3, 2, 0]), 8, e) == pytest.approx(8 * (40 + 20 + 10 + 10) * 1e-15)
    with pytest.raises(ParameterError, match="6 bits"):
        dub.converter_energy(np.array([6]), 1, e)


def test_a_pruned_column_read_at_its_own_full_scale_is_exact_with_fewer_bits():
    from charz.network import backends as bk
    from charz.study import dub_train as dt

    m, _ = bk.column_model({"adc_bits": 3, "adc_full_scale_k": 4, "mismatch_scale": 0.0})
    k = np.arange(5)
    np.testing.assert_array_equal(m.decode(m.quantizer.codes(m.v_nom[k])), k)  # 5 levels on 8 codes
    full, _ = bk.column_model({"adc_bits": 3, "mismatch_scale": 0.0})
    assert not np.array_equal(full.decode(full.quantizer.codes(full.v_nom[k])), k)  # full scale: 17 levels
    with pytest.raises(ParameterError, match="N = 16"):
        bk.column_model({"adc_full_scale_k": 17})
    luts = dt.adc_luts("ptm16hp")
    assert {3, 4, 5, 6} <= set(luts) and luts[3][1] < luts[4][1] < luts[5][1]
    mask = dub.dub_mask(np.random.default_rng(1).normal(size=(48, 8)), ROWS, 4)
    info = dt.layer_readout(mask, ROWS, luts)
    assert info["bits"] == 3 and info["lut_bits"] == 3 and info["full_scale_k"] == 4
    info2 = dt.layer_readout(dub.dub_mask(np.ones((48, 8)), ROWS, 2), ROWS, luts)
    assert info2["bits"] == 2 and info2["lut_bits"] == 3  # no 2-bit SA converter: the 3-bit one


def test_fine_tuning_keeps_the_structure_in_the_written_model():
    pytest.importorskip("torch")
    from onnx import numpy_helper

    from charz.datasets import load
    from charz.study import dub_train as dt

    tr = load("mnist", "train", limit=256)
    nodes = ["/3/Conv", "/7/Gemm"]
    p = dt.train(LENET5, tr.images, tr.labels, nodes, method="dub", keep=4, epochs=(1, 1), log=lambda s: None)
    proto = dt.onnx_proto(p.onnx)
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    assert set(p.masks) == set(nodes)
    for node, mask in p.masks.items():
        name = {"/3/Conv": "3.weight", "/7/Gemm": "7.weight"}[node]
        w2 = inits[name].reshape(inits[name].shape[0], -1).T
        assert np.all(w2[~mask] == 0) and np.all(dub.column_counts(w2 != 0, ROWS) <= 4)
        assert np.all(dub.column_counts(mask, ROWS)[:-1] == 4)
    assert not np.all(inits["0.weight"] == 0)  # the first layer is not pruned
    q = dt.train(LENET5, tr.images, tr.labels, nodes, method="magnitude", keep=4, epochs=(0, 0),
                 log=lambda s: None)
    assert abs(np.mean(q.masks["/7/Gemm"]) - 0.25) < 1e-3


def test_kept_counts_share_the_first_stage_and_give_what_separate_runs_give():
    pytest.importorskip("torch")
    from charz.datasets import load
    from charz.study import dub_train as dt

    tr = load("mnist", "train", limit=256)
    kw = dict(method="dub", epochs=(1, 1), batch=64, log=lambda s: None)
    shared = dt.train_keeps(LENET5, tr.images, tr.labels, ["/7/Gemm"], keeps=(8, 2), **kw)
    alone = dt.train(LENET5, tr.images, tr.labels, ["/7/Gemm"], keep=2, **kw)
    assert shared[1].onnx == alone.onnx and shared[1].history == alone.history
    assert shared[0].onnx != alone.onnx


def test_the_command_refuses_bad_keeps_and_models(tmp_path):
    r = charz("study", "dub", "--model", "lenet5", "--dataset", "mnist", "--out", str(tmp_path / "a"), "--keep", "3")
    assert one_line_error(r) and "powers of two" in r.stderr
    r = charz("study", "dub", "--model", "x.onnx", "--dataset", "mnist", "--out", str(tmp_path / "b"))
    assert one_line_error(r)
    r = charz("study", "dub", "--model", "lenet5", "--dataset", "mnist", "--out", str(tmp_path / "c"), "--lr", "0")
    assert one_line_error(r) and "--lr" in r.stderr


def test_a_model_whose_graph_cannot_be_trained_is_refused_before_anything_runs(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "vit"
    r = charz("study", "dub", "--model", "vit_mnist", "--dataset", "mnist", "--out", str(out), "--train-images", "16",
              "--images", "8")
    assert one_line_error(r) and "not a training operator" in r.stderr
    assert not (out / "result.json").exists()


def test_the_report_and_figure_show_every_run(tmp_path):
    from charz.plot.study import dub_figure
    from charz.study.dub_cli import markdown

    def run(method, keep, acc, e, exb, sp):
        return {"label": f"{method} keep {keep}/16", "method": method, "keep": keep, "sparsity": sp,
                "accuracy_mean": acc, "accuracy_std": 0.001, "accuracy_per_chip": [acc - 0.001, acc + 0.001],
                "adc_energy_per_inference_J": e, "adc_energy_per_crossbar_resolution_J": exb,
                "adc_reduction": 90e-9 / e, "adc_reduction_per_crossbar": 88e-9 / exb, "analog_tops_per_watt": 7.0,
                "layers": {} if method == "dense" else {"fc": {"bits": 3, "lut_bits": 3, "full_scale_k": keep}}}

    res = {"chips": 2, "n_test_images": 100, "n_train_images": 500, "rows": 16, "options": {"calibration": "trim"},
           "adc_luts": {"3": {"energy_J": 18e-15}, "5": {"energy_J": 40e-15}},
           "runs": [run("dense", 16, 0.99, 90e-9, 88e-9, 0.0), run("dub", 4, 0.985, 41e-9, 40e-9, 0.75),
                    run("magnitude", 4, 0.98, 62e-9, 53e-9, 0.75)]}
    md = markdown(res, "t")
    assert "dub keep 4/16" in md and "2.20x" in md and "7.13" in md and "3 / 3 / 4" in md
    png = dub_figure(res, tmp_path / "f.png", "t")
    assert png.stat().st_size > 10_000
