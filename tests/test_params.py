"""The Params base (charz/core/params.py): constraints, messages, replace / as_dict / pairs / describe, and that
every parameter class of the netlist generators uses it."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import pytest

import charz.blocks
import charz.netlist
from charz.core.errors import ParameterError
from charz.core.params import (
    Bool, Choice, Instance, Int, Params, PowerOfTwo, Real, Size, is_params_class, param, positive, spec,
)


@dataclasses.dataclass(frozen=True)
class Inner(Params):
    """A nested parameter object."""

    w: float = param(1e-6, positive(1e-4, "m"), "a width")


@dataclasses.dataclass(frozen=True)
class Demo(Params):
    """A small parameter class for the tests."""

    NOUN = "demo parameter"

    bits: int = param(4, Int(1, 6), "resolution")
    kind: str = param("a", Choice(("a", "b"), noun="kind"), "which kind")
    n: int = param(8, PowerOfTwo(2, 64), "inputs")
    flag: bool = param(True, Bool(), "a switch")
    vdd: float | None = param(None, Real(unit="V"), "supply; None = 0.7 V")
    temp: float = param(27.0, Real(-55, 150, unit="degC"), "temperature")
    t: float = param(1e-10, positive(1e-9, "s"), "a time")
    inner: Inner | None = param(None, Instance(Inner), "nested")
    cols: tuple = param((0, 1), None, "no constraint")

    def check(self):
        """vdd default; bits <= n."""
        if self.bits > self.n:
            raise ParameterError(f"bits = {self.bits} is more than n = {self.n}")
        self._set(vdd=0.7 if self.vdd is None else self.vdd, inner=self.inner or Inner())


def test_conversion_and_defaults():
    d = Demo(temp=85, bits=3)
    assert d.temp == 85.0 and isinstance(d.temp, float) and d.bits == 3 and d.vdd == 0.7
    assert d.inner == Inner()


@pytest.mark.parametrize("kw, words", [
    ({"bits": 0}, "Demo.bits = 0 is out of range: give an integer from 1 to 6 (resolution)"),
    ({"bits": 2.0}, "Demo.bits = 2.0 is not allowed"),
    ({"bits": True}, "Demo.bits = True"),
    ({"kind": "c"}, "Demo.kind = 'c' is an unknown kind: choose one of a, b"),
    ({"n": 12}, "Demo.n = 12 is not allowed: choose one of 2, 4, 8, 16, 32, 64"),
    ({"flag": 1}, "Demo.flag = 1 is not allowed: give True or False"),
    ({"vdd": "x"}, "Demo.vdd = 'x' must be a number"),
    ({"vdd": float("nan")}, "must be finite"),
    ({"temp": 200}, "Demo.temp = 200 degC is outside -55 .. 150 degC (temperature)"),
    ({"t": -1e-12}, "positive"),
    ({"t": 1e-6}, "values are in seconds"),
    ({"temp": None}, "Demo.temp = None must be a number"),
    ({"inner": "big"}, "give a Inner"),
    ({"bits": 6, "n": 4}, "bits = 6 is more than n = 4"),
])
def test_one_line_messages(kw, words):
    with pytest.raises(ParameterError) as e:
        Demo(**kw)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_replace_as_dict_pairs_describe():
    d = Demo()
    assert d.replace(bits=5).bits == 5
    with pytest.raises(ParameterError, match=r"unknown demo parameter\(s\) \['bogus'\]: use \['bits'"):
        d.replace(bogus=1)
    with pytest.raises(ParameterError):
        d.replace(bits=0)
    a = d.as_dict()
    assert list(a) == ["bits", "kind", "n", "flag", "vdd", "temp", "t", "cols", "inner"]  # nested last
    assert a["cols"] == [0, 1] and a["inner"] == {"w": 1e-6}
    p = dict(d.pairs())
    assert p["temp"] == "27" and p["bits"] == 4 and p["inner.w"] == "1e-06" and p["flag"] is True
    rows = {r[0]: r for r in Demo.describe()}
    assert rows["temp"][2] == "-55 .. 150 degC" and rows["temp"][3] == "temperature"
    assert "or None" in rows["vdd"][2]
    assert "temperature" in Demo.table()


def test_size_constraint_keeps_the_cell_ranges():
    w = Size("width", 200, 100e-6)
    assert w.bounds(16e-9) == (1.6e-08, 3.2e-06)
    assert w.bounds(1e-6) == (1e-06, 1e-4)  # at most 100 um
    assert w.inside(2.2e-08, 22e-9) and not w.inside(3.3e-06, 16e-9)
    assert Size("length", 20, 10e-6).bounds(16e-9) == (1.6e-08, 3.2e-07)
    with pytest.raises(ParameterError, match="outside 1e-09 .. 0.0001 m"):
        w.check(1.0, "X.w")


def _params_classes():
    out = {}
    names = [f"charz.netlist.{m.name}" for m in pkgutil.iter_modules(charz.netlist.__path__)]
    names += [m.name for m in pkgutil.walk_packages(charz.blocks.__path__, "charz.blocks.")
              if m.name.rpartition(".")[2].startswith("netlist")]
    for name in names:
        mod = importlib.import_module(name)
        for name, obj in vars(mod).items():
            if isinstance(obj, type) and obj.__module__ == mod.__name__ and dataclasses.is_dataclass(obj):
                out[f"{mod.__name__}.{name}"] = obj
    return out


def test_every_params_class_of_the_generators_uses_the_base():
    classes = _params_classes()
    params = {k: c for k, c in classes.items() if k.endswith(("Params", "Sizes"))}
    assert len(params) == 16, sorted(params)
    for name, cls in params.items():
        assert is_params_class(cls), name
        for f in dataclasses.fields(cls):
            c, desc = spec(f)
            assert c is not None and desc, f"{name}.{f.name} has no constraint / description"
        for m in ("replace", "as_dict", "pairs", "__post_init__"):
            assert m not in vars(cls) or m in ("pairs", "as_dict", "replace"), (name, m)
        assert "__post_init__" not in vars(cls), name  # validation is the base's, rules are in check()
