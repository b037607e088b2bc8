"""SPICE text building blocks shared by every generator.

Generators never paste a user string into SPICE text: numbers go through :func:`num`, names through
:func:`ident`, and the model card is included by a path the PDK registry resolved and checked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from pathlib import Path

from ..core import pdk as pdkmod
from ..core.errors import ParameterError
from ..core.params import Real, Text
from ..core.validate import num, positive, round12  # noqa: F401  (num and positive are re-exported for generators)

_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DECK_PATH = re.compile(r"^/[A-Za-z0-9_./+-]{1,1000}$")
MOS_W_MAX = 1e-3
MOS_L_MAX = 1e-4
"""Absolute plausibility bounds of any generated transistor (1 mm wide, 100 um long): a value beyond them
was given in the wrong unit. Block parameters check tighter, Lmin-relative ranges."""


def is_deck_path(text: str) -> bool:
    """True when *text* may be written into a deck as a file path: absolute, only letters, digits and
    ``_ . / + -`` (no blank, quote, newline, ``;`` or ``$`` that SPICE's parser or its control language
    could read as something else), no ``..`` component."""
    return bool(_DECK_PATH.match(text)) and ".." not in text.split("/")


def deck_path(path) -> str:
    """*path* as deck text, or a ParameterError (see :func:`is_deck_path`)."""
    text = str(path)
    if not is_deck_path(text):
        raise ParameterError(f"the path {text!r} cannot be written into a SPICE deck safely: charz includes "
                             f"model cards as private copies (give the card through the PDK search path)")
    return text


class PdkName(Text):
    """A PDK name from the manifest: a non-string is a ParameterError, an unknown name a PDKError that
    lists the names (``charz pdk list``)."""

    def check(self, value, where: str, desc: str = ""):
        """*value* when it names a PDK of the manifest."""
        if not isinstance(value, str):
            raise ParameterError(f"pdk must be a PDK name such as 'ptm16hp', got {value!r} ({where})")
        pdkmod.describe(value)
        return value


PDK_NAME = PdkName("a PDK name such as 'ptm16hp' (charz pdk list)")
"""Constraint of every generator's ``pdk`` field."""
VDD = Real(unit="V")
"""Constraint of a ``vdd`` field (finite; the card's own range is checked by ``PDK.check_vdd``)."""
TEMP = Real(-55.0, 150.0, unit="degC")
"""Constraint of a temperature field."""


def pdk_of(params):
    """The PDK description named by *params*.pdk (validated when *params* was made)."""
    return pdkmod.describe(params.pdk)


def ident(name: str) -> str:
    """A generator-made node or element name: lower-case letters, digits and underscores only."""
    if name == "0":
        return name
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ParameterError(f"invalid SPICE name {name!r}: use lower-case letters, digits and '_'")
    return name


@dataclasses.dataclass(frozen=True)
class Device:
    """A MOSFET instance, as Monte Carlo needs it (name as written in the netlist, type, W, L in metres)."""

    name: str
    kind: str  # "n" or "p"
    w: float
    l: float


@dataclasses.dataclass(frozen=True)
class Netlist:
    """A complete deck: everything the engine needs and nothing it must guess.

    ``body`` holds element lines only; the engine adds the card include, options, temperature,
    analysis, save list and ``.end``. ``canonical()`` replaces the card path by its sha256 so the text
    (and the cache key made from it) does not depend on where the card lives.
    """

    block: str
    title: str
    params: tuple[tuple[str, object], ...]
    body: tuple[str, ...]
    card: Path
    card_sha256: str
    analysis: str
    save: tuple[str, ...]
    temp: float = 27.0
    options: tuple[tuple[str, str], ...] = ()
    devices: tuple[Device, ...] = ()

    def text(self, card: str | None = None, extra_options: tuple[tuple[str, str], ...] = ()) -> str:
        """The deck. The card include is this netlist's card path (checked with :func:`deck_path`; the engine
        runs every deck on a private copy of the card) unless *card* gives generator-made text (a file name
        or the canonical ``<sha256:...>`` placeholder)."""
        card_line = f".include {card if card is not None else deck_path(self.card)}"
        opts = dict(self.options)
        opts.update(dict(extra_options))
        lines = [f"* {self.title}", card_line]
        lines += self.body
        if opts:
            lines.append(".options " + " ".join(f"{k}={v}" for k, v in sorted(opts.items())))
        lines.append(f".temp {num(self.temp, 'temperature')}")
        lines.append(self.analysis)
        lines.append(".save " + " ".join(self.save))
        lines.append(".end")
        return "\n".join(lines) + "\n"

    def canonical(self) -> str:
        """The deck text with the card include replaced by ``<sha256:...>`` of the card: independent of where
        the card lives (what cache keys and golden comparisons use)."""
        return self.text(card=f"<sha256:{self.card_sha256}>")

    @property
    def sha256(self) -> str:
        """sha256 (hex) of :meth:`canonical`."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()

    def golden(self) -> str:
        """The deck as written to netlists/: the card by file name, with its sha256 in a comment."""
        head = (
            f"* generated by charz ({self.block}); parameters: "
            + ", ".join(f"{k}={v}" for k, v in self.params)
            + f"\n* model card {self.card.name} sha256 {self.card_sha256}: find it on CHARZ_PDK_PATH\n"
        )
        return head + self.text(card=self.card.name)


def mos(name: str, d: str, g: str, s: str, b: str, model: str, w: float, l: float) -> str:
    """A BSIM4 instance line. rbodymod/rgatemod are switched off per instance (faster with the
    same results on the PTM cards; the measurement is in docs/ARCHITECTURE.md, "Key decisions")."""
    if not 0 < positive(w, f"width of {name}") <= MOS_W_MAX:
        raise ParameterError(f"width of {name} = {w:g} m is beyond {MOS_W_MAX:g} m: sizes are in metres (e.g. 64e-9)")
    if not 0 < positive(l, f"length of {name}") <= MOS_L_MAX:
        raise ParameterError(f"length of {name} = {l:g} m is beyond {MOS_L_MAX:g} m: sizes are in metres (e.g. 16e-9)")
    return (
        f"{ident(name)} {ident(d)} {ident(g)} {ident(s)} {ident(b)} {ident(model)} "
        f"w={num(w)} l={num(l)} rbodymod=0 rgatemod=0"
    )


def edge_points(t0: float, dur: float, v0: float, v1: float, segments: int = 4) -> list[tuple[float, float]]:
    """A raised-cosine edge from (t0, v0) to (t0 + dur, v1) as ``segments`` PWL pieces. Its corners are
    source breakpoints, so ngspice resolves the edge with small steps while flat parts run at the coarse
    maximum step (a plain linear ramp at a 20 ps step put 9 mV of error into the CiM column's V_BL)."""
    pts = []
    for j in range(segments + 1):
        x = j / segments
        pts.append((t0 + x * dur, v0 + (v1 - v0) * (0.5 - 0.5 * math.cos(math.pi * x))))
    return pts


@dataclasses.dataclass(frozen=True)
class CycleTimeline:
    """Instants of a deck of equal cycles (s): cycle c starts at ``start[c]``; a family's subclass adds its own
    instants, relative to a cycle's start (the WHT crossbar, the CAM rows, the digital CiM add)."""

    start: tuple[float, ...]
    period: float
    t_edge: float

    def at(self, c: int, rel: float) -> float:
        """Absolute time (s) of the instant *rel* (relative to a cycle start) in cycle *c*."""
        return self.start[c] + rel


def pwl_source(name: str, node: str, points: list[tuple[float, float]]) -> list[str]:
    """Deck lines of a PWL voltage source *name* from *node* to ground through *points* ``(t [s], v [V])``
    (times rounded to 12 digits), continued over several lines, 8 points per line."""
    pairs = [f"{num(round12(t))} {num(round(v, 12))}" for t, v in points]
    lines = [f"{ident(name)} {ident(node)} 0 pwl("]
    for a in range(0, len(pairs), 8):
        lines.append("+ " + " ".join(pairs[a:a + 8]))
    lines.append("+ )")
    return lines
