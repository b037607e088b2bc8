"""One base for the generators' frozen parameter classes: declarative field constraints, written once.

A parameter class is a frozen dataclass deriving from :class:`Params` whose fields are made by
:func:`param`: a default, a constraint (:class:`Real`, :class:`Int`, :class:`Choice`, :class:`Bool`,
:class:`PowerOfTwo`, :class:`Instance`, :class:`Size`, ...) and a one-line description::

    @dataclasses.dataclass(frozen=True)
    class DelayLineParams(Params):
        bits: int = param(4, Int(1, 5), "exponent bits per line")
        vbn: float | None = param(None, Real(unit="V"), "NMOS starve bias; None = 0.85 VDD")

Creating an object checks every field against its constraint (a field whose default is ``None`` also
accepts ``None``: the class resolves it in :meth:`Params.check`), converts it (an ``Int`` to ``int``, a
``Real`` to ``float``), then calls :meth:`Params.check` for the rules that involve several fields or the
PDK. Every field error has one style, ``"<Class>.<field> = <value> is outside <allowed> (<desc>)"``, and
is a :class:`~charz.core.errors.ParameterError` (exit status 2 in the CLI). :meth:`Params.replace`,
:meth:`Params.as_dict`, :meth:`Params.pairs` and :meth:`Params.describe` are written here once.

Imports: only :mod:`charz.core.errors`, :mod:`charz.core.validate` and the standard library (the netlist
generators import this module).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

from .errors import ParameterError
from .validate import num, round12

_META = "charz.param"


# ---- constraints ------------------------------------------------------------------------------------
class Constraint:
    """What values a field allows. :meth:`check` returns the value converted (``float``, ``int``) or
    raises a ParameterError in the one message style; :meth:`allowed` says in words what is allowed."""

    def allowed(self) -> str:
        """What is allowed, in words (used in messages and in :meth:`Params.describe`)."""
        return "any value"

    def check(self, value, where: str, desc: str = ""):
        """*value* converted, or ParameterError naming *where* (``Class.field``) and *desc*."""
        return value

    def fail(self, where: str, shown: str, desc: str, problem: str | None = None):
        """Raise the one-style message: ``<where> = <shown> <problem> (<desc>)``."""
        problem = problem or f"is outside {self.allowed()}"
        raise ParameterError(f"{where} = {shown} {problem}" + (f" ({desc})" if desc else ""))


_UNITS = {"F": "farads", "s": "seconds", "m": "metres", "V": "volts", "ohm": "ohms"}


@dataclasses.dataclass(frozen=True)
class Real(Constraint):
    """A finite real number, converted to ``float``, in [lo, hi] (``lo_open``: above lo, e.g. positive
    numbers with ``lo=0, lo_open=True``); *unit* is shown in messages (SI units)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    unit: str = ""

    def allowed(self) -> str:
        """``lo .. hi unit``, ``positive, at most hi unit``, ``>= lo unit`` or ``any finite number``."""
        u = f" {self.unit}" if self.unit else ""
        if self.lo_open and self.lo == 0:
            return f"positive numbers up to {self.hi:g}{u}" if self.hi is not None else "positive numbers"
        if self.lo is not None and self.hi is not None:
            return f"{self.lo:g} .. {self.hi:g}{u}" + (f" (above {self.lo:g})" if self.lo_open else "")
        if self.lo is not None:
            return f"{'>' if self.lo_open else '>='} {self.lo:g}{u}"
        if self.hi is not None:
            return f"<= {self.hi:g}{u}"
        return f"any finite number{u}"

    def check(self, value, where: str, desc: str = "") -> float:
        """*value* as a float inside the range."""
        u = f" {self.unit}" if self.unit else ""
        if isinstance(value, bool):
            self.fail(where, repr(value), desc, f"must be a number: give {self.allowed()}")
        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(where, repr(value), desc, f"must be a number: give {self.allowed()}")
        if not math.isfinite(v):
            self.fail(where, repr(value), desc, f"must be finite: give {self.allowed()}")
        low = self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo)
        if low or (self.hi is not None and v > self.hi):
            si = _UNITS.get(self.unit, "SI units")
            hint = f" (values are positive, in {si})" if v <= 0 and self.lo is not None and self.lo >= 0 \
                and (self.lo > 0 or self.lo_open) else (f" (values are in {si})" if self.unit and self.unit != "degC" and not low else "")
            self.fail(where, f"{v:g}{u}", desc, f"is outside {self.allowed()}{hint}")
        return v


POSITIVE = Real(0, None, lo_open=True)
"""A positive finite number."""


def positive(hi: float | None = None, unit: str = "") -> Real:
    """A positive number up to *hi* (the bound catches values given in the wrong unit)."""
    return Real(0, hi, lo_open=True, unit=unit)


@dataclasses.dataclass(frozen=True)
class Int(Constraint):
    """An integer (not a bool) in [lo, hi], converted to ``int``; *unit* is shown in messages (``bits``)."""

    lo: int | None = None
    hi: int | None = None
    unit: str = ""

    def allowed(self) -> str:
        """``an integer from lo to hi [unit]``."""
        u = f" {self.unit}" if self.unit else ""
        if self.lo is not None and self.hi is not None:
            return f"an integer from {self.lo} to {self.hi}{u}"
        return f"an integer >= {self.lo}{u}" if self.lo is not None else "an integer"

    def check(self, value, where: str, desc: str = "") -> int:
        """*value* as an int inside the range."""
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            self.fail(where, repr(value), desc, f"is not allowed: give {self.allowed()}")
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            self.fail(where, repr(value), desc, f"is out of range: give {self.allowed()}")
        return int(value)


@dataclasses.dataclass(frozen=True)
class Choice(Constraint):
    """One of *values* (strings or integers; an integer choice is converted to ``int``); *noun* names
    what a value is in the message (``'7t' is an unknown bitcell``)."""

    values: tuple
    noun: str = ""

    def allowed(self) -> str:
        """``one of a, b, c``."""
        return "one of " + ", ".join(map(str, self.values))

    def check(self, value, where: str, desc: str = ""):
        """*value* when it is one of the choices."""
        bad = f"is an unknown {self.noun}: choose {self.allowed()}" if self.noun else f"is not allowed: choose {self.allowed()}"
        ints = all(isinstance(c, int) for c in self.values)
        if ints:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) not in self.values:
                self.fail(where, repr(value), desc, bad)
            return int(value)
        if not isinstance(value, str) or value not in self.values:
            self.fail(where, repr(value), desc, bad)
        return value


def PowerOfTwo(lo: int, hi: int) -> Choice:  # noqa: N802  (reads as a constraint class)
    """The powers of two from *lo* to *hi* as a :class:`Choice` of integers."""
    return Choice(tuple(1 << k for k in range(64) if lo <= (1 << k) <= hi))


@dataclasses.dataclass(frozen=True)
class Bool(Constraint):
    """``True`` or ``False`` (not 0 / 1)."""

    def allowed(self) -> str:
        """``True or False``."""
        return "True or False"

    def check(self, value, where: str, desc: str = "") -> bool:
        """*value* when it is a bool."""
        if not isinstance(value, bool):
            self.fail(where, repr(value), desc, "is not allowed: give True or False")
        return value


@dataclasses.dataclass(frozen=True)
class Instance(Constraint):
    """An instance of *cls* (a nested parameter object such as the cell sizes)."""

    cls: type

    def allowed(self) -> str:
        """``a <Class>``."""
        return f"a {self.cls.__name__}"

    def check(self, value, where: str, desc: str = ""):
        """*value* when it is an instance of the class."""
        if not isinstance(value, self.cls):
            self.fail(where, f"{type(value).__name__} {value!r}", desc,
                      f"is not allowed: give {self.allowed()} (or None for the PDK's default)")
        return value


@dataclasses.dataclass(frozen=True)
class Text(Constraint):
    """Any string (e.g. a PDK name, resolved by the class's :meth:`Params.check`)."""

    what: str = "a string"

    def allowed(self) -> str:
        """What the string names."""
        return self.what

    def check(self, value, where: str, desc: str = ""):
        """*value* when it is a string."""
        if not isinstance(value, str):
            self.fail(where, repr(value), desc, f"is not allowed: give {self.what}")
        return value


SIZE_MIN = 1e-9
"""No transistor size below 1 nm (values are metres)."""


@dataclasses.dataclass(frozen=True)
class Size(Constraint):
    """A transistor width or length in metres. Without a PDK: 1 nm .. *abs_max*. With the PDK
    (:meth:`check_pdk`): Lmin .. min(*lmin_max* x Lmin, *abs_max*), the bounds rounded to 12 digits and
    compared with a relative tolerance of 1e-6 (22n given as 2.2e-08 equals 22 x 1e-9)."""

    kind: str
    """``"width"`` or ``"length"`` (named in the message)."""
    lmin_max: float
    abs_max: float

    def allowed(self) -> str:
        """``1e-09 .. abs_max m`` (and the Lmin-relative rule)."""
        return f"{SIZE_MIN:g} .. {self.abs_max:g} m"

    def rule(self) -> str:
        """The Lmin-relative rule in words."""
        return f"Lmin .. {self.lmin_max:g} x Lmin, at most {self.abs_max * 1e6:g} um"

    def check(self, value, where: str, desc: str = "") -> float:
        """*value* as a float in 1 nm .. abs_max."""
        return Real(SIZE_MIN, self.abs_max, unit="m").check(value, where, desc)

    def bounds(self, lmin: float) -> tuple[float, float]:
        """(lowest, highest) allowed size in metres at minimum length *lmin*."""
        L = round12(lmin)
        return L, min(round12(self.lmin_max * L), self.abs_max)

    def inside(self, value: float, lmin: float) -> bool:
        """Whether *value* lies inside :meth:`bounds` (relative tolerance 1e-6)."""
        lo, hi = self.bounds(lmin)
        return lo * (1 - 1e-6) <= value <= hi * (1 + 1e-6)


# ---- fields -----------------------------------------------------------------------------------------
def param(default: Any, constraint: Constraint | None, desc: str):
    """A dataclass field with *default*, its *constraint* and a one-line *desc* (in the field's metadata).
    A field without a default: ``param(dataclasses.MISSING, ...)``."""
    meta = {_META: (constraint, desc)}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def spec(f: dataclasses.Field) -> tuple[Constraint | None, str]:
    """(constraint, description) of a field made by :func:`param`; (None, "") otherwise."""
    return f.metadata.get(_META, (None, ""))


# ---- the base ---------------------------------------------------------------------------------------
class Params:
    """Base of the frozen parameter dataclasses (see the module docstring)."""

    NOUN: str = ""
    """What a field is called in "unknown ..." messages (default ``<Class> parameter``)."""
    PDK_BOUND: bool = False
    """True when resolved per-PDK defaults make :meth:`replace` refuse another ``pdk``."""
    NONE_LABEL: str = "auto"
    """How :meth:`pairs` writes a field left at ``None``."""

    def __post_init__(self):
        cls = type(self).__name__
        for f in dataclasses.fields(self):
            c, desc = spec(f)
            v = getattr(self, f.name)
            if c is None or (v is None and f.default is None):
                continue
            object.__setattr__(self, f.name, c.check(v, f"{cls}.{f.name}", desc))
        self.check()

    def check(self) -> None:
        """Cross-field rules and per-PDK defaults (``None`` fields); the base has none. Set a resolved
        value with :meth:`_set`."""

    def _set(self, **values) -> None:
        """Set resolved fields of this frozen object (only from :meth:`check`)."""
        for k, v in values.items():
            object.__setattr__(self, k, v)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The field names in order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def check_names(cls, names) -> None:
        """ParameterError (one line, with the valid names) when some of *names* are not fields."""
        valid = cls.field_names()
        unknown = sorted(set(names) - set(valid))
        if unknown:
            noun = cls.NOUN or f"{cls.__name__} parameter"
            raise ParameterError(f"unknown {noun}(s) {unknown}: use {list(valid)}")

    def replace(self, **kw):
        """A copy with some fields changed, validated again. Unknown names raise ParameterError; a class
        with ``PDK_BOUND`` refuses another ``pdk`` (its resolved defaults are per-PDK)."""
        self.check_names(kw)
        if self.PDK_BOUND and "pdk" in kw and kw["pdk"] != getattr(self, "pdk"):
            raise ParameterError(f"make a new {type(self).__name__} for another PDK (its sizes and timing are "
                                 f"per-PDK defaults)")
        return dataclasses.replace(self, **kw)

    def as_dict(self) -> dict:
        """Plain JSON-able form (netlist headers, LUT provenance, cache keys): the fields in order,
        tuples as lists, nested parameter objects as dicts after the other fields."""
        d, nested = {}, {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if dataclasses.is_dataclass(v):
                nested[f.name] = dataclasses.asdict(v)
            else:
                d[f.name] = list(v) if isinstance(v, tuple) else v
        d.update(nested)
        return d

    def pairs(self) -> tuple[tuple[str, object], ...]:
        """(name, value) pairs for netlist headers: floats by ``num()`` (12 significant digits), ``None``
        as :attr:`NONE_LABEL`, nested objects as ``field.NAME``."""
        out, nested = [], []
        for k, v in self.as_dict().items():
            if isinstance(v, dict):
                nested += [(f"{k}.{kk}", num(vv)) for kk, vv in v.items()]
            else:
                out.append((k, num(v) if isinstance(v, float) else (self.NONE_LABEL if v is None else v)))
        return tuple(out + nested)

    @classmethod
    def describe(cls) -> list[tuple[str, str, str, str]]:
        """One row per field: (name, default, allowed values, description), for ``--help`` and docs."""
        rows = []
        for f in dataclasses.fields(cls):
            c, desc = spec(f)
            default = "required" if f.default is dataclasses.MISSING else repr(f.default)
            allowed = c.allowed() if c is not None else ""
            if f.default is None and c is not None:
                allowed += " or None (default resolved per PDK)"
            rows.append((f.name, default, allowed, desc))
        return rows

    @classmethod
    def table(cls) -> str:
        """:meth:`describe` as aligned text lines."""
        rows = [("field", "default", "allowed", "description")] + cls.describe()
        w = [max(len(r[i]) for r in rows) for i in range(3)]
        return "\n".join(f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]}".rstrip() for r in rows)


def is_params_class(obj) -> bool:
    """Whether *obj* is a Params dataclass (for the registry and the tests)."""
    return isinstance(obj, type) and issubclass(obj, Params) and dataclasses.is_dataclass(obj)
