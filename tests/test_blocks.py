"""One common test suite run over every block family of the registry and every implementation of the
behavioral interfaces (scikit-learn's ``check_estimator`` idea): a new family or a new digitizer /
backend gets these checks without writing them.

- Per family (``REGISTRY.blocks``): its kinds, parameter classes, golden netlists, code references,
  options, folder layout, plots of its committed LUTs, and the interfaces its models implement
  (:data:`IMPLEMENTS`: every family must say which, possibly none).
- Per :class:`~charz.behavior.interfaces.Digitizer`, :class:`~charz.behavior.interfaces.ColumnReadout`
  and :class:`~charz.behavior.interfaces.MatmulBackend` implementation: the contract of the interface
  (shapes, units, reproducibility), and for the backends that the adapter gives the same results as the
  call it wraps.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from charz.behavior.interfaces import (
    PLACEMENTS, ColumnReadout, Cost, Digitizer, InstanceBank, MatmulBackend, Quantizer,
)
from charz.behavior.readout import IdealQuantizer
from charz.blocks import REGISTRY
from charz.blocks.base import resolve
from charz.core.errors import ParameterError
from charz.core.lut import KINDS, LUT
from charz.core.params import is_params_class, spec

ROOT = Path(__file__).resolve().parents[1]
BLOCKS_DIR = ROOT / "charz" / "blocks"
LUT_DIR = ROOT / "lut" / "ptm16hp"
NETLISTS = ROOT / "netlists"
PDK = "ptm16hp"
OPTION_TYPES = ("int", "float", "number", "str", "flag", "list")
STAGE_FILE = re.compile(r"^(__init__|commands|(netlist|recipe|check|model|plots)\w*)\.py$")
FAMILIES = [pytest.param(b, id=b.family) for b in REGISTRY.blocks]


def _committed_luts() -> dict[str, Path]:
    """One committed LUT per kind (the first by file name), read from the ``.json`` metadata only."""
    out: dict[str, Path] = {}
    for j in sorted(LUT_DIR.glob("*.json")):
        out.setdefault(json.loads(j.read_text())["block"], j)
    return out


LUTS = _committed_luts()


def _lut(kind: str) -> LUT:
    if kind not in LUTS:
        pytest.skip(f"no committed {kind} LUT under {LUT_DIR}")
    return LUT.load(LUTS[kind])


# ---- per family ---------------------------------------------------------------------------------------
def test_every_kind_is_declared_by_exactly_one_family():
    declared = [k for b in REGISTRY.blocks for k in b.kinds]
    assert sorted(declared) == sorted(KINDS), "every LUT kind of charz.core.lut.KINDS belongs to exactly one family"
    assert len(set(REGISTRY.families())) == len(REGISTRY.blocks)


def test_every_family_folder_is_registered():
    folders = {p.parent.name for p in BLOCKS_DIR.glob("*/__init__.py")}
    assert folders == set(REGISTRY.families())


@pytest.mark.parametrize("block", FAMILIES)
def test_kinds_are_lut_kinds(block):
    assert block.kinds and len(set(block.kinds)) == len(block.kinds)
    assert set(block.kinds) <= set(KINDS)
    for k in block.kinds:
        assert REGISTRY.for_kind(k) is block
    assert block.summary.strip() and "\n" not in block.summary


@pytest.mark.parametrize("block", FAMILIES)
def test_parameter_classes_are_documented_params(block):
    classes = block.param_classes()
    assert classes, f"{block.family} declares no parameter class"
    for cls in classes:
        assert is_params_class(cls), f"{cls!r} is not a charz.core.params.Params dataclass"
        assert cls.__doc__ and cls.__doc__.strip()
        for f in dataclasses.fields(cls):
            constraint, desc = spec(f)
            assert constraint is not None and desc.strip(), f"{cls.__name__}.{f.name} has no constraint / description"


@pytest.mark.parametrize("block", FAMILIES)
def test_golden_netlists_match_the_committed_folder(block):
    files = block.golden_netlists(PDK)
    assert files, f"{block.family} writes no golden netlist"
    for name, text in files.items():
        path = NETLISTS / name
        assert path.is_file(), f"netlists/{name} is not committed (regenerate: make netlists)"
        assert path.read_bytes() == text.encode(), f"netlists/{name} differs from the generator (make netlists)"


def test_no_two_families_write_the_same_netlist():
    seen: dict[str, str] = {}
    for b in REGISTRY.blocks:
        for name in b.golden_netlists(PDK):
            assert name not in seen, f"netlists/{name} is written by {seen[name]} and {b.family}"
            seen[name] = b.family
    assert set(seen) == {p.name for p in NETLISTS.iterdir() if p.is_file()}, "stale or missing files in netlists/"


@pytest.mark.parametrize("block", FAMILIES)
def test_code_references_resolve(block):
    assert callable(resolve(block.recipe))
    assert callable(resolve(block.plots))
    for ref in block.golden:
        assert callable(resolve(ref))
    if block.model:
        assert isinstance(resolve(block.model), type), f"{block.model} is not a class"
    for c in block.commands:
        assert c.verb in ("eval", "check", "train") and c.name and c.help.strip()
        assert callable(resolve(c.run))


def _check_option(opt, kinds: tuple[str, ...]):
    assert opt.flag.startswith("--") and opt.help.strip(), f"{opt.flag} has no help text"
    assert opt.type in OPTION_TYPES, f"{opt.flag}: unknown type {opt.type!r}"
    assert set(opt.kinds) <= set(kinds), f"{opt.flag} names kinds {opt.kinds} outside {kinds}"
    argparse.ArgumentParser().add_argument(opt.flag, help=opt.help, **opt.argparse_kwargs())


@pytest.mark.parametrize("block", FAMILIES)
def test_options_are_documented_and_typed(block):
    for opt in block.options:
        _check_option(opt, block.kinds)
    for c in block.commands:
        for opt in c.options:
            _check_option(opt, block.kinds)


@pytest.mark.parametrize("block", FAMILIES)
def test_family_folder_holds_only_stage_modules(block):
    folder = BLOCKS_DIR / block.family
    bad = [p.name for p in folder.glob("*.py") if not STAGE_FILE.match(p.name)]
    assert not bad, (f"charz/blocks/{block.family}/ may hold only __init__.py, netlist*.py, recipe*.py, check*.py, "
                     f"model*.py, plots*.py and commands.py; found {bad}")
    assert not [p for p in folder.iterdir() if p.is_dir() and p.name != "__pycache__"], "no sub-packages"


@pytest.mark.parametrize("block", FAMILIES)
def test_plots_of_committed_luts(block, tmp_path):
    kinds = [k for k in block.kinds if k in LUTS]
    if not kinds:
        pytest.skip(f"no committed LUT of {block.family} under {LUT_DIR}")
    for k in kinds:
        out = tmp_path / k
        paths = block.make_plots(LUT.load(LUTS[k]), out, k)
        pngs = [Path(p) for p in paths if str(p).endswith(".png")]
        assert pngs, f"{k}: no PNG written"
        for p in pngs:
            assert p.is_file() and p.stat().st_size > 0 and p.parent == out and p.name.startswith(k)


# ---- the interfaces each family's models implement ---------------------------------------------------------
def _digitizer_model(kind="adc_sar"):
    from charz.blocks.adc.model import DigitizerModel

    return DigitizerModel.from_lut(_lut(kind))


def _column_model():
    from charz.blocks.cim_column.model import ColumnModel

    return ColumnModel.from_lut(_lut("cim_column"))


def _wht_model():
    from charz.blocks.wht.model import WhtModel

    return WhtModel.from_lut(_lut("wht_column"))


def _cim_backend():
    from charz.blocks.cim_column.model_layer import CimBackend

    return CimBackend(_column_model(), w_bits=4, x_bits=4, seed=1)


def _wht_backend():
    from charz.blocks.wht.model import WhtBackend

    return WhtBackend(32, model=_wht_model(), bits=6, seed=1)


def _td_backend():
    from charz.blocks.adc.model import IdealDigitizer
    from charz.blocks.td_mac.model import TdMacBackend, TdMacModel
    from charz.blocks.td_mac.model_circuit import synthetic_circuit

    return TdMacBackend(TdMacModel("e4m3", 8, circuit=synthetic_circuit("e4m3", n=50, seed=2),
                                   adc=IdealDigitizer(6, 0.0, 1.0), units=2, seed=3))


IMPLEMENTS = {
    "bitcell": [],
    "cim_column": [(ColumnReadout, _column_model), (MatmulBackend, _cim_backend)],
    "comparator": [],
    "adc": [(Digitizer, _digitizer_model)],
    "wht": [(ColumnReadout, _wht_model), (MatmulBackend, _wht_backend)],
    "td_mac": [(MatmulBackend, _td_backend)],
}
"""Family -> (interface, factory of an instance from its committed LUTs) for every interface its models
implement. A family whose model implements one adds its line here (absent = none)."""


def test_interface_table_names_registered_families():
    assert set(IMPLEMENTS) <= set(REGISTRY.families())


def _program(obj, rng):
    """Program a backend with a matrix it accepts; returns (weights, inputs)."""
    from charz.blocks.cim_column.model_layer import CimBackend
    from charz.blocks.td_mac.model import TdMacBackend
    from charz.blocks.wht.model import WhtBackend
    from charz.blocks.wht.model_planes import block_hadamard

    if isinstance(obj, CimBackend):
        w, x = rng.integers(-7, 8, (40, 6)), rng.integers(0, 16, (5, 40))
    elif isinstance(obj, WhtBackend):
        lay = obj.layer
        w, x = block_hadamard(lay.n, lay.n_rows, lay.order), rng.integers(-31, 32, (5, lay.n))
    elif isinstance(obj, TdMacBackend):
        w, x = rng.standard_normal((20, 6)), rng.standard_normal((5, 20))
    else:
        raise AssertionError(f"add {type(obj).__name__} to _program")
    obj.program(w)
    return w, x


@pytest.mark.parametrize("block", FAMILIES)
def test_family_models_satisfy_their_interfaces(block):
    rng = np.random.default_rng(0)
    seen = set()
    for proto, make in IMPLEMENTS.get(block.family, []):
        obj = make()
        assert isinstance(obj, proto), f"{type(obj).__name__} does not satisfy {proto.__name__}"
        if isinstance(obj, MatmulBackend):
            _program(obj, rng)
        seen |= {type(obj), *(type(getattr(obj, a)) for a in ("layer", "model") if hasattr(obj, a))}
    if block.model and IMPLEMENTS.get(block.family):
        assert resolve(block.model) in seen, (f"{block.family}'s model {block.model} is neither an implementation of "
                                              f"an interface nor wrapped by one")


# ---- Digitizer: the common checks over every implementation ------------------------------------------------
def _ideal_digitizer():
    from charz.blocks.adc.model import IdealDigitizer

    return IdealDigitizer(5, 0.2, 0.7)


def _synthetic_digitizer():
    from charz.blocks.adc.model import DigitizerModel
    from charz.blocks.adc.model_transfer import synthetic_adc_lut

    return DigitizerModel.from_lut(synthetic_adc_lut("adc_flash", 4, sigma_offset=0.01, n_samples=40, seed=1))


DIGITIZERS = [pytest.param(_ideal_digitizer, id="IdealDigitizer"),
              pytest.param(_synthetic_digitizer, id="DigitizerModel-synthetic")] + [
    pytest.param(lambda k=k: _digitizer_model(k), id=f"DigitizerModel-{k}")
    for k in ("adc_sar", "adc_mi_sar", "adc_flash", "adc_hybrid")]


@pytest.mark.parametrize("make", DIGITIZERS)
def test_digitizer_contract(make):
    d = make()
    assert isinstance(d, Digitizer) and isinstance(d, Quantizer)
    n = 1 << d.bits
    assert d.v_hi > d.v_lo
    assert np.isfinite(d.energy) and d.energy >= 0 and np.isfinite(d.t_conv) and d.t_conv >= 0
    assert d.placement in PLACEMENTS and (d.borrowed_bits is None) == (d.placement != "immersed")
    assert (d.block == "ideal") == (d.placement == "ideal")
    assert d.label and d.short_label and "\n" not in d.label
    desc = d.describe()
    assert {"block", "label", "bits", "v_lo", "v_hi", "energy_J", "t_conv_s", "mismatch"} <= set(desc)
    json.dumps(desc, default=str)

    v = np.linspace(d.v_lo - 0.1, d.v_hi + 0.1, 2001)
    c = d.codes(v)
    assert c.shape == v.shape and c.dtype.kind == "i" and c.min() == 0 and 0 < c.max() <= n - 1
    assert np.all(np.diff(c) >= 0), "codes must not decrease with the input"
    ctr = np.asarray(d.centers())
    assert ctr.shape == (n,) and np.all(np.diff(ctr) >= 0)
    assert np.all((ctr >= d.v_lo - 1e-12) & (ctr <= d.v_hi + 1e-12))

    before = (d.v_lo, d.v_hi)
    lo, hi = d.v_lo + 0.05, d.v_hi + 0.1
    m = d.for_range(lo, hi)
    assert isinstance(m, Digitizer) and m.bits == d.bits and (m.v_lo, m.v_hi) == pytest.approx((lo, hi))
    assert (d.v_lo, d.v_hi) == before, "for_range returns a new object, the original is unchanged"
    assert np.all(np.diff(m.codes(np.linspace(lo, hi, 501))) >= 0)

    bank = d.instances(6, np.random.default_rng(4))
    assert isinstance(bank, InstanceBank) and len(bank) == 6
    vv = np.broadcast_to(v, (6, v.size))
    codes = bank.convert(vv)
    assert codes.shape == vv.shape and codes.min() >= 0 and codes.max() <= n - 1
    np.testing.assert_array_equal(codes, d.instances(6, np.random.default_rng(4)).convert(vv))  # same seed, same chip
    idx = np.arange(v.size) % 6
    np.testing.assert_array_equal(bank.convert(v, idx), codes[idx, np.arange(v.size)])
    if not d.has_instances:
        np.testing.assert_array_equal(codes, np.broadcast_to(c, vv.shape))
    assert {"instances", "max_abs_dnl_lsb", "max_abs_inl_lsb"} <= set(bank.summary())

    nominal = d.with_mismatch_scale(0.0)
    assert isinstance(nominal, Digitizer) and nominal.mismatch_scale == 0.0
    np.testing.assert_array_equal(nominal.instances(3, np.random.default_rng(5)).convert(np.broadcast_to(v, (3, v.size))),
                                  np.broadcast_to(c, (3, v.size)))


def test_ideal_quantizer_is_a_quantizer_not_a_digitizer():
    q = IdealQuantizer(4, 0.0, 1.0)
    assert isinstance(q, Quantizer) and not isinstance(q, Digitizer)


def test_non_digitizers_are_refused():
    from charz.blocks.td_mac.model import TdMacModel
    from charz.network.timing import scheme_for

    q = IdealQuantizer(4, 0.0, 1.0)
    col = _column_model()
    with pytest.raises(ParameterError, match="digitizer"):
        col.with_digitizer(q)
    with pytest.raises(ParameterError, match="digitizer"):
        dataclasses.replace(col, quantizer=q)
    with pytest.raises(ParameterError, match="digitizer"):
        TdMacModel("e4m3", 4, adc=q)
    with pytest.raises(ParameterError, match="digitizer"):
        scheme_for(q)
    assert scheme_for(_ideal_digitizer()) == ("ideal", None)


# ---- ColumnReadout --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, kind", [pytest.param(_column_model, "cim_column", id="ColumnModel"),
                                        pytest.param(_wht_model, "wht_column", id="WhtModel")])
def test_column_readout_contract(make, kind):
    m = make()
    assert isinstance(m, ColumnReadout)
    assert m.n_rows >= 1 and m.mismatch_scale >= 0 and "vdd" in m.coords
    assert isinstance(m.choices, dict) and m.provenance.get("pdk") == PDK
    again = type(m).from_lut(_lut(kind), vdd=m.coords["vdd"], temp=m.coords.get("temp"),
                             t_pulse=m.coords.get("t_pulse"), mismatch_scale=0.0)
    assert again.mismatch_scale == 0.0 and again.coords == m.coords
    json.dumps(m.describe(), default=str)


# ---- MatmulBackend -------------------------------------------------------------------------------------------
def _ideal_cim():
    from charz.blocks.cim_column.model_layer import CimBackend

    return CimBackend(None, n_rows=16)


def _ideal_wht():
    from charz.blocks.wht.model import WhtBackend

    return WhtBackend(32, n_rows=16, bits=6)


def _exact_td():
    from charz.blocks.td_mac.model import TdMacBackend, TdMacModel

    return TdMacBackend(TdMacModel.exact("e4m3", 8))


BACKENDS = [pytest.param(f, id=f.__name__.strip("_")) for f in
            (_cim_backend, _ideal_cim, _wht_backend, _ideal_wht, _td_backend, _exact_td)]


@pytest.mark.parametrize("make", BACKENDS)
def test_matmul_backend_contract(make):
    b = make()
    assert isinstance(b, MatmulBackend) and b.label
    assert b.shape is None
    with pytest.raises(ParameterError, match="program"):
        b.matmul(np.zeros((1, 4)))
    w, x = _program(b, np.random.default_rng(7))
    assert b.shape == w.shape
    y, cost = b.matmul(x)
    assert y.shape == (x.shape[0], w.shape[1]) and np.all(np.isfinite(y))
    assert isinstance(cost, Cost) and 0 < cost.ops <= 2 * x.shape[0] * w.shape[0] * w.shape[1]
    assert all(np.isfinite(e) and e >= 0 for e in cost.energy.values()), cost.energy
    assert cost.conversions >= 0 and (cost.latency is None or cost.latency >= 0)
    y2, cost2 = b.matmul(x)
    np.testing.assert_array_equal(y, y2)  # one chip: the same products every call
    assert (cost + cost2).energy_J == pytest.approx(2 * cost.energy_J) and (cost + cost2).ops == 2 * cost.ops
    json.dumps((cost + cost2).as_dict())
    ref = b.ideal()
    assert isinstance(ref, MatmulBackend) and ref.shape == b.shape
    yi, _ = ref.matmul(x)
    assert yi.shape == y.shape


def test_adapters_give_the_results_of_the_calls_they_wrap():
    from charz.blocks.cim_column.model_layer import cim_matmul
    from charz.blocks.td_mac.model import TdMacModel
    from charz.blocks.td_mac.model_circuit import synthetic_circuit
    from charz.blocks.wht.model import wht_cim, wht_ideal
    from charz.network.energy import EnergyLedger

    rng = np.random.default_rng(11)
    b = _cim_backend()
    w, x = _program(b, rng)
    y, cost = b.matmul(x)
    y0, hist = cim_matmul(x, w, b.model, seed=1, return_hist=True)
    np.testing.assert_array_equal(y, y0)
    assert cost.ops == 2 * x.shape[0] * w.size
    led = EnergyLedger(b.model.e_nom, conversion_energy=b.model.quantizer.energy)
    led.add("l", hist, images=x.shape[0], macs_per_image=w.size)
    assert cost.energy_J == pytest.approx(led.layers["l"].energy) and cost.conversions == led.layers["l"].conversions
    np.testing.assert_array_equal(b.ideal().matmul(x)[0], x @ w)

    h = _wht_backend()
    w, x = _program(h, rng)
    y, cost = h.matmul(x)
    y0, st = wht_cim(x, h.layer.model, bits=6, seed=1)
    np.testing.assert_array_equal(y, y0)
    assert cost.energy_J == pytest.approx(st.energy) and cost.ops == st.ops
    np.testing.assert_array_equal(h.ideal().matmul(x)[0], wht_ideal(x, 16, bits=6))
    with pytest.raises(ParameterError, match="hard-wired"):
        h.program(np.eye(32))

    t = _td_backend()
    w, x = _program(t, rng)
    y, cost = t.matmul(x)
    from charz.blocks.adc.model import IdealDigitizer

    m = TdMacModel("e4m3", 8, circuit=synthetic_circuit("e4m3", n=50, seed=2), adc=IdealDigitizer(6, 0.0, 1.0),
                   units=2, seed=3)
    np.testing.assert_array_equal(y, m.matmul(x, w))
    assert cost.ops == 2 * x.shape[0] * w.size
    assert cost.energy_J == pytest.approx(m.last_stats["energy_J"])
    np.testing.assert_array_equal(t.ideal().matmul(x)[0], TdMacModel.exact("e4m3", 8).matmul(x, w))
