"""HCiM mechanics (charz.study.hcim): partial sums against a NumPy reference, ternary decisions ideal and through
the WHT latch LUT, least-squares scale factors, the product."""

from __future__ import annotations

import numpy as np
import pytest

from charz.core.errors import ParameterError
from charz.study import hcim

ROWS = 16


def _data(seed=0, b=6, k=40, n=5, x_bits=4, w_bits=4):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << x_bits, size=(b, k))
    w = rng.integers(-(1 << (w_bits - 1)) + 1, 1 << (w_bits - 1), size=(k, n))
    return x, w


def test_partial_sums_rebuild_the_exact_product_and_match_a_loop():
    x, w = _data()
    kp, kn = hcim.partial_sums(x, w, ROWS, 4, 4)
    assert kp.shape == (4, 3, 3, 6, 5) and kp.dtype == np.int16
    np.testing.assert_array_equal(hcim.exact_product(kp, kn), x @ w)
    # one entry by a loop: plane 2, slice 1, tile 1, input 3, output 4
    rows = range(16, 32)
    want_p = sum(((x[3, r] >> 2) & 1) * ((max(w[r, 4], 0) >> 1) & 1) for r in rows)
    want_n = sum(((x[3, r] >> 2) & 1) * ((max(-w[r, 4], 0) >> 1) & 1) for r in rows)
    assert (kp[2, 1, 1, 3, 4], kn[2, 1, 1, 3, 4]) == (want_p, want_n)
    with pytest.raises(ParameterError, match="unsigned 4-bit"):
        hcim.partial_sums(x + 16, w, ROWS, 4, 4)
    with pytest.raises(ParameterError, match="signed 4-bit"):
        hcim.partial_sums(x, w * 3, ROWS, 4, 4)


def test_ternary_decisions_and_scales_reproduce_a_reference():
    x, w = _data(seed=1, b=50)
    kp, kn = hcim.partial_sums(x, w, ROWS, 4, 4)
    q = hcim.ternary_ideal(kp, kn, theta=1.5)
    d = kp.astype(int) - kn
    np.testing.assert_array_equal(q, np.where(d >= 2, 1, np.where(d <= -2, -1, 0)))
    a = hcim.fit_scales(q, kp, kn)
    # the least-squares alpha of one column, by brute force over a grid
    s, t, n = 1, 2, 3
    wts = (4.0 ** np.arange(4))[:, None]
    grid = np.linspace(0, 6, 60001)
    sse = [(wts * (d[:, s, t, :, n] - g * q[:, s, t, :, n]) ** 2).sum() for g in grid[::100]]
    assert a[s, t, n] == pytest.approx(grid[::100][int(np.argmin(sse))], abs=0.011)
    y = hcim.hcim_product(q, a)
    ref = np.einsum("p,s,stn,pstbn->bn", 2.0 ** np.arange(4), 2.0 ** np.arange(3), a, q.astype(float))
    np.testing.assert_allclose(y, ref)
    # a ternary read-out with its scales tracks the exact product (correlation), with no ADC
    assert np.corrcoef(y.ravel(), (x @ w).ravel())[0, 1] > 0.9


def test_the_latch_lut_gives_ternary_decisions_with_each_columns_thresholds():
    from charz.blocks.wht.model import WhtModel
    from charz.core.lut import LUT, find_default

    model = WhtModel.from_lut(LUT.load(find_default("ptm16hp", "wht16")), vdd=0.8)
    x, w = _data(seed=2, b=20, x_bits=2, w_bits=2)  # 1-bit magnitudes: k+ + k- <= 16 rows
    kp, kn = hcim.partial_sums(x, w, ROWS, 2, 2)
    q_nom = hcim.ternary_lut(kp, kn, model)
    nom = model.nominal_q("ternary")
    want = np.nan_to_num(nom[kp, kn]).astype(np.int8)
    np.testing.assert_array_equal(q_nom, want)  # nominal thresholds: the model's own nominal decisions
    q1 = hcim.ternary_lut(kp, kn, model, np.random.default_rng(0))
    q2 = hcim.ternary_lut(kp, kn, model, np.random.default_rng(0))
    np.testing.assert_array_equal(q1, q2)  # one chip, drawn once from its generator
    assert 0 < np.mean(q1 != q_nom) < 0.5  # mismatch moves some decisions, not most
    assert set(np.unique(q1)) <= {-1, 0, 1}
    kp2, kn2 = hcim.partial_sums(np.full((2, 32), 15), np.full((32, 2), 7), 32, 4, 4)  # 32-row tiles
    with pytest.raises(ParameterError, match="active cells"):
        hcim.ternary_lut(kp2, kn2, model)


def test_the_report_lists_every_read_out_with_its_energy(tmp_path):
    from charz.plot.study import hcim_figure
    from charz.study.hcim_cli import markdown

    runs = [{"label": "SAR 4-bit (trim)", "accuracy_mean": 0.93, "accuracy_std": 0.02, "cim_energy_J":
             {"array": 0.4e-9, "readout": 13.3e-9}, "cim_energy_total_J": 13.7e-9, "cim_tops_per_watt": 43.4},
            {"label": "HCiM, nominal latches", "accuracy_mean": 0.983, "accuracy_std": 0.0, "cim_energy_J":
             {"latches": 3.7e-9, "scale_adds": 3.1e-9}, "cim_energy_total_J": 6.8e-9, "cim_tops_per_watt": 87.8}]
    md = markdown({"chips": 4, "n_test_images": 1000, "epochs": 2, "n_train_images": 10000,
                   "latch_lut": {"vdd": 0.8}, "add_energy_J": 30e-15, "runs": runs, "published": "up to 28 %"}, "t")
    assert "| HCiM, nominal latches | 98.30 ± 0.00 % | 6.800 | latches 3.700, scale_adds 3.100 | 87.8 |" in md
    assert "30 fJ (assumed)" in md and "up to 28 %" in md
    for r, accs in zip(runs, ([0.92, 0.94], [0.983])):
        r["accuracy_per_chip"] = accs
    assert hcim_figure({"runs": runs}, tmp_path / "f.png", "t").stat().st_size > 10_000
