"""Which backend computes which weight product of a network: mapping files and the built-in default.

A mapping file is TOML (read with ``tomllib``)::

    [defaults]                 # every layer, unless an entry says otherwise
    backend = "cim"            # optional; the command line's backend replaces it
    first_last = "digital"     # optional: "digital" (default) or "same"
    w_bits = 4
    x_bits = 4

    [[layer]]                  # entries are tried in order: the first that matches a layer wins
    match = "conv1*"           # fnmatch glob on the node name, and/or
    op = "Gemm"                # a glob on the ONNX op type (Conv, Gemm, MatMul); both given: both must match
    backend = "cim"            # optional: the default backend
    adc_lut = "../lut/ptm16hp/adc_sar4"   # any backend option (charz.network.backends.OPTIONS)

A layer no entry matches gets the default backend, except with ``first_last = "digital"`` the first and
the last weight layer (execution order), which run on the ``digital`` backend (the usual practice: the
first layer sees raw pixels, the last gives the logits). An entry that matches the first or last layer
wins over that rule. A block operator (``ai.charz.WhtCrossbar``) is no weight layer: it runs on its own
backend (``wht``; :data:`charz.network.backends.BLOCK_BACKENDS`) whatever the default, an entry may set
its options (an entry giving it another backend, or giving ``wht`` to a weight layer, is an error), and it
does not count for the first / last rule::

    [[layer]]
    match = "wht*"             # the WHT network's crossbar nodes (charz.network.wht.wht_onnx)
    backend = "wht"
    lut = "../lut/ptm16hp/wht16"
    vdd = 0.8

Options: the entry's, over ``[defaults]``'s; a ``[defaults]`` key that does not
apply to a layer's backend is left out for that layer (``tile_rows`` is no digital option), while an
entry's key must apply to its backend. Paths (``lut``, ``adc_lut``, a ``td_mac`` ``adc`` given as a
string) are relative to the mapping file's folder.

Every problem is a one-line :class:`MappingError` naming the file and the key (``FILE: [[layer]] 2:
tile_rows = 0: must be >= 1``).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import tomllib
from pathlib import Path

from ..core.errors import ParameterError
from . import backends as bk

FIRST_LAST = ("digital", "same")
"""Values of ``first_last``: first / last weight layer on ``digital``, or on the default backend too."""
DEFAULT_BACKEND = "cim"
"""Backend of the layers nothing else maps, when neither the command line nor the file names one."""
PATH_KEYS = ("lut", "adc_lut", "adc")
"""Options whose string values are paths (relative to the mapping file)."""
_ENTRY_KEYS = ("match", "op", "backend")
_DEFAULT_KEYS = ("backend", "first_last")


class MappingError(ParameterError):
    """A mapping file is missing, not TOML, or has an unknown key or a bad value."""


@dataclasses.dataclass(frozen=True)
class Rule:
    """One ``[[layer]]`` entry: globs on node name / op type, backend (None: the default) and options."""

    match: str | None
    op: str | None
    backend: str | None
    options: dict
    where: str
    """``FILE: [[layer]] i`` for messages."""

    def matches(self, name: str, op: str) -> bool:
        """True when *name* / *op* match every glob given."""
        return ((self.match is None or fnmatch.fnmatchcase(name, self.match))
                and (self.op is None or fnmatch.fnmatchcase(op, self.op)))


@dataclasses.dataclass(frozen=True)
class Assignment:
    """What one weight layer runs on: backend, options (checked), and why (``rule``)."""

    backend: str
    options: dict
    rule: str
    """The entry that matched (``FILE: [[layer]] i``), ``first/last layer`` or ``default``."""


@dataclasses.dataclass(frozen=True)
class Mapping:
    """Rules, ``[defaults]`` options, default backend and the first / last rule, from a file or built in."""

    rules: tuple[Rule, ...] = ()
    defaults: dict = dataclasses.field(default_factory=dict)
    backend: str = DEFAULT_BACKEND
    first_last: str = "digital"
    source: str = "built-in default"

    def resolve(self, layers) -> dict[str, Assignment]:
        """node name -> :class:`Assignment` for *layers*, a sequence of ``(name, op, ...)`` in execution order
        (:func:`charz.network.graph.weight_products` rows qualify)."""
        items = [(str(x[0]), str(x[1])) for x in layers]
        out = {}
        weights = [name for name, op in items if op not in bk.BLOCK_BACKENDS]
        edge = {weights[0], weights[-1]} if weights and self.first_last == "digital" else set()
        for name, op in items:
            rule = next((r for r in self.rules if r.matches(name, op)), None)
            home = bk.BLOCK_BACKENDS.get(op)
            if rule is not None:
                backend, why, own = rule.backend or home or self.backend, rule.where, rule.options
            elif home is not None:
                backend, why, own = home, f"block operator {op} (its backend)", {}
            elif name in edge:
                backend, why, own = "digital", "first/last layer (first_last = digital)", {}
            else:
                backend, why, own = self.backend, "default", {}
            allowed = set(bk.BACKEND_OPTIONS[backend])
            opts = {k: v for k, v in self.defaults.items() if k in allowed}
            opts.update(own)
            where = rule.where if rule is not None else f"{self.source}: [defaults]"
            try:
                bk.check_pairing(backend, op, name, where)
                opts = bk.check_options(backend, opts, f"{where} (layer '{name}' on {backend})", engine=False)
            except ParameterError as err:
                raise MappingError(str(err)) from None
            out[name] = Assignment(backend, opts, why)
        return out

    def describe(self) -> dict:
        """JSON-ready: source, default backend, first / last rule, defaults and the rules."""
        return {"source": self.source, "backend": self.backend, "first_last": self.first_last,
                "defaults": dict(self.defaults),
                "rules": [{"match": r.match, "op": r.op, "backend": r.backend, "options": dict(r.options),
                           "where": r.where} for r in self.rules]}


def default_mapping(backend: str = DEFAULT_BACKEND, first_last: str = "digital", **options) -> Mapping:
    """The built-in mapping: every weight layer on *backend* with *options*, but the first and last on
    ``digital`` when *first_last* is ``"digital"``."""
    where = "built-in mapping"
    _check_backend(backend, f"{where}: backend")
    _check_first_last(first_last, f"{where}: first_last")
    return Mapping((), _check_defaults(options, where), backend, first_last, where)


def load_mapping(path, *, backend: str | None = None, first_last: str | None = None) -> Mapping:
    """The :class:`Mapping` of the TOML file *path*; *backend* / *first_last* (the command line's) replace the
    file's ``[defaults]`` values when given."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(f"mapping file {p} not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise MappingError(f"mapping file {p} cannot be read: {type(e).__name__}") from None
    return parse_mapping(text, str(p), base=p.parent, backend=backend, first_last=first_last)


def parse_mapping(text: str, source: str = "mapping", *, base=None, backend: str | None = None,
                  first_last: str | None = None) -> Mapping:
    """The :class:`Mapping` of TOML *text* (*source* names it in messages; relative paths are resolved
    against the folder *base*, default the current folder)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise MappingError(f"{source}: not valid TOML ({e})") from None
    extra = sorted(set(doc) - {"defaults", "layer"})
    if extra:
        raise MappingError(f"{source}: unknown table or key {extra[0]!r} (a mapping file has [defaults] and "
                           f"[[layer]] entries)")
    base = Path(base) if base is not None else None
    d = doc.get("defaults", {})
    if not isinstance(d, dict):
        raise MappingError(f"{source}: defaults must be a table ([defaults])")
    where = f"{source}: [defaults]"
    d = dict(d)
    file_backend = d.pop("backend", None)
    if file_backend is not None:
        _check_backend(file_backend, f"{where}: backend")
    file_fl = d.pop("first_last", None)
    if file_fl is not None:
        _check_first_last(file_fl, f"{where}: first_last")
    defaults = _paths(_check_defaults(d, where), base)
    if backend is not None:
        _check_backend(backend, "backend")
    if first_last is not None:
        _check_first_last(first_last, "first_last")
    entries = doc.get("layer", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise MappingError(f"{source}: layer must be an array of tables ([[layer]] entries)")
    rules = []
    for i, e in enumerate(entries, 1):
        w = f"{source}: [[layer]] {i}"
        e = dict(e)
        m, op, b = e.pop("match", None), e.pop("op", None), e.pop("backend", None)
        if m is None and op is None:
            raise MappingError(f"{w}: give match (a glob on node names) and / or op (a glob on op types)")
        for key, val in (("match", m), ("op", op)):
            if val is not None and (not isinstance(val, str) or not val):
                raise MappingError(f"{w}: {key} = {val!r}: must be a non-empty string (a glob)")
        if b is not None:
            _check_backend(b, f"{w}: backend")
        try:
            opts = bk.check_options(b, e, w, engine=False) if b is not None else _check_defaults(e, w)
        except MappingError:
            raise
        except ParameterError as err:
            raise MappingError(str(err)) from None
        rules.append(Rule(m, op, b, _paths(opts, base), w))
    return Mapping(tuple(rules), defaults, backend or file_backend or DEFAULT_BACKEND,
                   first_last or file_fl or "digital", source)


def as_mapping(mapping, *, backend: str | None = None, first_last: str | None = None) -> Mapping:
    """A :class:`Mapping` from a Mapping (returned as is unless *backend* / *first_last* replace its values),
    a path of a mapping file, or None (the built-in default with *backend* / *first_last*)."""
    if mapping is None:
        return default_mapping(backend or DEFAULT_BACKEND, first_last or "digital")
    if isinstance(mapping, Mapping):
        if backend is not None:
            _check_backend(backend, "backend")
        if first_last is not None:
            _check_first_last(first_last, "first_last")
        return dataclasses.replace(mapping, backend=backend or mapping.backend,
                                   first_last=first_last or mapping.first_last)
    if isinstance(mapping, (str, Path)):
        return load_mapping(mapping, backend=backend, first_last=first_last)
    raise MappingError(f"a mapping must be a Mapping, the path of a mapping file or None, got {type(mapping).__name__}")


# ---- checks ----------------------------------------------------------------------------------------------
def _check_backend(name, where: str) -> str:
    if name not in bk.BACKENDS:
        raise MappingError(f"{where} = {name!r}: must be one of {', '.join(bk.BACKENDS)}")
    return name


def _check_first_last(value, where: str) -> str:
    if value not in FIRST_LAST:
        raise MappingError(f"{where} = {value!r}: must be one of {', '.join(FIRST_LAST)}")
    return value


def _check_defaults(options: dict, where: str) -> dict:
    """Options known to some backend (the executor's own keys refused), each value checked."""
    out = {}
    for k, v in options.items():
        if k in bk.ENGINE_KEYS:
            raise MappingError(f"{where}: key {k!r} is set by the executor, not by a mapping")
        if k not in bk.OPTIONS or k in _ENTRY_KEYS or k in _DEFAULT_KEYS:
            raise MappingError(f"{where}: unknown key {k!r} (options: {', '.join(sorted(set(bk.OPTIONS) - set(bk.ENGINE_KEYS)))})")
        try:
            out[k] = bk.OPTIONS[k].check(v, k, where)
        except ParameterError as err:
            raise MappingError(str(err)) from None
    return out


def _paths(options: dict, base: Path | None) -> dict:
    if base is None:
        return options
    out = dict(options)
    for k in PATH_KEYS:
        v = out.get(k)
        if isinstance(v, str) and not Path(v).is_absolute():
            out[k] = str(base / v)
    return out
