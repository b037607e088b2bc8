"""What a block family declares, once: :class:`Block` (its LUT kinds, parameter classes, recipe, plots,
golden netlists, command-line options and network commands) and :class:`Option` (one command-line option).

A declaration names its code as ``"module:attribute"`` strings that are imported only when used, so the
registry (:mod:`charz.blocks`) is cheap to import and a family's model never pulls in its recipe or the
simulator. ``charz/blocks/README.md`` is the checklist for adding a family.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable

from ..core.errors import ParameterError


def _number(text: str) -> float:
    """argparse type of a ``"number"`` option (a refusal becomes argparse's one-line error)."""
    import argparse

    from ..core.grid import number

    try:
        return number(text, "value")
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def resolve(ref: str) -> Any:
    """The object a ``"package.module:attribute"`` reference names (imported on demand)."""
    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


@dataclasses.dataclass(frozen=True)
class Option:
    """One command-line option of a family's command (``charz characterize``, ``eval``, ``check``, ``train``).

    The command line adds each flag once for all families; its help lists each family's text, and a value
    given for a block whose family does not declare the flag (for that kind) is refused in one line."""

    flag: str
    """The option as typed, e.g. ``"--flash-bits"``."""
    help: str
    """What it does for this family (the command line prefixes the kinds it applies to)."""
    dest: str = ""
    """Keyword the recipe / command receives (default: the flag without dashes, ``-`` -> ``_``)."""
    type: str = "str"
    """``"int"``, ``"float"``, ``"number"`` (a float read by :func:`charz.core.grid.number`: SPICE suffixes such as
    ``2p``), ``"str"`` (parsed by the family), ``"flag"`` (on / off) or ``"list"`` (repeatable)."""
    choices: tuple = ()
    """Allowed values (empty: any)."""
    metavar: str | None = None
    """Name of the value in ``--help``."""
    kinds: tuple[str, ...] = ()
    """The kinds of the family that accept it (empty: every kind of the family)."""
    default: Any = None
    """Value when the option is not given; any other value counts as given (and is checked)."""

    @property
    def key(self) -> str:
        """The keyword the value is passed as."""
        return self.dest or self.flag.lstrip("-").replace("-", "_")

    def argparse_kwargs(self) -> dict:
        """Keyword arguments of ``ArgumentParser.add_argument`` for this option (without ``help``)."""
        kw: dict[str, Any] = {"dest": self.key, "default": self.default}
        if self.type == "flag":
            kw["action"] = "store_true"
            kw["default"] = bool(self.default)
        elif self.type == "list":
            kw["action"] = "append"
        else:
            kw["type"] = {"int": int, "float": float, "str": str, "number": _number}[self.type]
        if self.choices:
            kw["choices"] = self.choices
        if self.metavar:
            kw["metavar"] = self.metavar
        return kw

    def same_shape(self, other: "Option") -> bool:
        """Two families may declare one flag only with the same type, choices and default."""
        return (self.key, self.type, self.choices, self.default) == (other.key, other.type, other.choices,
                                                                      other.default)


@dataclasses.dataclass(frozen=True)
class Command:
    """A network-level command a family offers: ``charz eval --network NAME``, ``charz check NAME`` or
    ``charz train --network NAME``."""

    verb: str
    """``"eval"``, ``"check"`` or ``"train"``."""
    name: str
    """The name the user types (``--network NAME`` / ``check NAME``)."""
    run: str
    """``"module:function"``: ``function(args) -> int`` (the exit code)."""
    help: str
    """One paragraph for ``--help``."""
    options: tuple[Option, ...] = ()
    """Options of this command (flags shared with other families' commands are added once)."""
    summary: str = ""
    """A few words for the verb's one-line help in ``charz --help`` (empty: the name alone)."""
    default: bool = False
    """The command ``charz eval`` / ``train`` runs when ``--network`` is not given (one per verb; without
    one, the first declared)."""
    hints: tuple[tuple[str, str], ...] = ()
    """(flag, text): added to the error when another command's option of the same verb is given for this one."""


@dataclasses.dataclass(frozen=True)
class Block:
    """Everything the rest of charz needs to know about one block family. Write one in the family's
    ``__init__.py`` and add it to :data:`charz.blocks.REGISTRY`."""

    family: str
    """Folder name under ``charz/blocks/``."""
    kinds: tuple[str, ...]
    """LUT kinds it makes (constants of :class:`charz.core.lut.Kind`), i.e. the ``charz characterize`` names."""
    summary: str
    """One line for ``--help`` and the README."""
    params: tuple[str, ...]
    """``"module:Class"`` of every generator parameter class (:class:`charz.core.params.Params`)."""
    recipe: str
    """``"module:function"``: ``function(kind, pdk, **common, **options) -> LUT``, where *common* is
    ``vdd, temp, mc, seed, executor, use_cache, progress, fit_check`` and *options* the declared ones given."""
    plots: str
    """``"module:function"``: ``function(lut, out_folder, stem) -> list[Path]`` (PNG files written)."""
    golden: tuple[str, ...]
    """``"module:function"`` of each ``golden_netlists(pdk) -> {file name: deck text}``."""
    options: tuple[Option, ...] = ()
    """``charz characterize`` options beyond the common ones."""
    commands: tuple[Command, ...] = ()
    """Network-level commands (eval / check / train)."""
    model: str = ""
    """``"module:Class"`` of the behavioral model fed by its LUTs (empty for cells without one)."""
    hints: tuple[tuple[str, str], ...] = ()
    """(flag, text): added to the error when another family's option is given for this family's block."""

    def characterize(self, kind: str, pdk, **kw):
        """Run the recipe for *kind* (one of :attr:`kinds`)."""
        if kind not in self.kinds:
            raise ParameterError(f"'{kind}' is not a {self.family} block: choose one of {', '.join(self.kinds)}")
        return resolve(self.recipe)(kind, pdk, **kw)

    def make_plots(self, lut, out, stem: str) -> list:
        """Write *lut*'s PNGs into folder *out* (created) with names starting with *stem*."""
        out.mkdir(parents=True, exist_ok=True)
        return list(resolve(self.plots)(lut, out, stem))

    def golden_netlists(self, pdk) -> dict[str, str]:
        """Every golden netlist of the family for *pdk*: file name -> deck text."""
        out: dict[str, str] = {}
        for ref in self.golden:
            out.update(resolve(ref)(pdk))
        return out

    def param_classes(self) -> list[type]:
        """The family's parameter classes, imported."""
        return [resolve(ref) for ref in self.params]

    def accepts(self, option: Option, kind: str) -> bool:
        """Whether *option* (declared by this family) applies to *kind*."""
        return kind in self.kinds and (not option.kinds or kind in option.kinds)


class Registry:
    """The block families charz knows, in a fixed order: lookup by family or by LUT kind, and the
    command-line options and commands they declare."""

    def __init__(self, blocks: list[Block]):
        self.blocks: tuple[Block, ...] = tuple(blocks)
        self._by_kind: dict[str, Block] = {}
        for b in self.blocks:
            for k in b.kinds:
                if k in self._by_kind:
                    raise ValueError(f"LUT kind {k!r} is declared by {self._by_kind[k].family} and {b.family}")
                self._by_kind[k] = b

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every kind, family by family (the ``charz characterize`` choices)."""
        return tuple(self._by_kind)

    def family(self, name: str) -> Block:
        """The family called *name*."""
        for b in self.blocks:
            if b.family == name:
                return b
        raise ParameterError(f"unknown block family '{name}': choose one of {', '.join(self.families())}")

    def families(self) -> tuple[str, ...]:
        """The family names."""
        return tuple(b.family for b in self.blocks)

    def for_kind(self, kind: str) -> Block:
        """The family that makes LUT kind *kind*; a one-line ``ParameterError`` for an unknown one."""
        try:
            return self._by_kind[kind]
        except KeyError:
            raise ParameterError(f"unknown block '{kind}': choose one of {', '.join(self.kinds)}") from None

    def characterize(self, kind: str, pdk, **kw):
        """Run the recipe of block *kind* (its family's :meth:`Block.characterize`); returns the LUT."""
        return self.for_kind(kind).characterize(kind, pdk, **kw)

    def make_plots(self, lut, out, stem: str) -> list:
        """Write the PNGs of *lut* (by its kind) into folder *out*; returns their paths."""
        return self.for_kind(lut.block).make_plots(lut, out, stem)

    def golden_netlists(self, pdk) -> dict[str, str]:
        """Every family's golden netlists for *pdk*: file name -> deck text (names are unique)."""
        out: dict[str, str] = {}
        for b in self.blocks:
            files = b.golden_netlists(pdk)
            clash = sorted(set(files) & set(out))
            if clash:
                raise ValueError(f"golden netlist {clash[0]} is written by two families")
            out.update(files)
        return out

    def options(self) -> dict[str, list[tuple[Block, Option]]]:
        """``charz characterize`` options by flag, with the families declaring each."""
        return _group((b, o) for b in self.blocks for o in b.options)

    def commands(self, verb: str) -> dict[str, tuple[Block, Command]]:
        """The commands of *verb* (``eval`` / ``check`` / ``train``) by name."""
        return {c.name: (b, c) for b in self.blocks for c in b.commands if c.verb == verb}

    def command_options(self, verb: str) -> dict[str, list[tuple[Command, Option]]]:
        """Options of *verb*'s commands by flag, with the commands declaring each."""
        return _group((c, o) for _, c in self.commands(verb).values() for o in c.options)


def _group(pairs) -> dict:
    out: dict[str, list] = {}
    for owner, opt in pairs:
        for _, seen in out.get(opt.flag, []):
            if not seen.same_shape(opt):
                raise ValueError(f"option {opt.flag} is declared twice with different types, choices or defaults")
        out.setdefault(opt.flag, []).append((owner, opt))
    return out


def given(value, option: Option) -> bool:
    """Whether the parsed *value* of *option* counts as given by the user."""
    if option.type == "flag":
        return bool(value) != bool(option.default)
    return value is not None and value != option.default and value != []


def applies(registry_options: dict, chosen: Callable[[Any, Option], bool], values: dict, label: str,
            owners: Callable[[Any, Option], str], hints: tuple = ()) -> None:
    """Refuse (one-line ``ParameterError``) the first given option that *chosen* does not accept; *label*
    names what was chosen, *owners* names where the option applies, *hints* are (flag, text) pairs of
    the chosen block's family added to the message."""
    for flag, decls in registry_options.items():
        opt = decls[0][1]
        if not given(values.get(opt.key), opt):
            continue
        if not any(chosen(owner, o) for owner, o in decls):
            where = ", ".join(dict.fromkeys(owners(owner, o) for owner, o in decls))
            hint = "".join(f" ({text})" for f, text in hints if f == flag)
            raise ParameterError(f"{flag} applies to {where} only, not to {label}{hint}")
