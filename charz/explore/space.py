"""The design space of ``charz explore``: a TOML file read into a checked :class:`Space`.

Layout (every table but ``[space]`` optional; units SI, numbers may carry SPICE suffixes as strings)::

    [study]
    trials = 24                       # completed points wanted (failed points are retried, up to as many)
    sampler = "nsga2"                 # nsga2 | tpe | random (Optuna's samplers)
    seed = 1
    population = 8                    # NSGA-II generation size (default: min(trials, 16))
    objectives = ["accuracy_worst", "tops_per_watt"]   # METRIC or METRIC:max / METRIC:min

    [characterize]                    # recipe arguments at every point (as `charz characterize BLOCK` takes them)
    vdd = 0.7
    mc = 8
    bits = 5

    [eval]                            # how every point is evaluated on the network
    images = 300
    chips = 3
    calibration = "offset"            # any backend option of `charz eval --set`

    [space]                           # what the optimizer chooses; "eval.NAME" is a backend option
    c_unit = { low = "0.5f", high = "4f", log = true }
    "comparator_sizes.w_in" = { low = "256n", high = "2u", log = true }
    "eval.calibration" = { choices = ["none", "offset"] }

A characterization name is a recipe argument: ``vdd``, ``temp``, ``mc``, ``seed``, one of the block's
``charz characterize`` options (by its keyword, e.g. ``steps_per_lsb``), or a field of one of the block's
generator parameter classes (``c_unit``, ``t_clk``, ...); ``FIELD.SUB`` sets one field of a nested parameter
object (``comparator_sizes.w_in``: the PDK's default sizes with that width changed), or one entry of a
``NAME=VALUE`` list option (``size.w_rd`` for the column's ``--size``). ``vdd`` and ``temp`` are single
values: the point is characterized and evaluated there. The generators validate every value before a deck
is written (nothing from this file reaches SPICE text unchecked)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from pathlib import Path
from typing import Any

from ..core.errors import ParameterError
from ..core.grid import number

SAMPLERS = ("nsga2", "tpe", "random")
"""Optuna samplers a study may use."""
COMMON = ("vdd", "temp", "mc", "seed")
"""Recipe arguments every block takes (``vdd`` / ``temp`` as one value here)."""
EVAL_SETTINGS = {"images": 300, "chips": 3, "seed": 0, "calib_images": 200, "first_last": "digital",
                 "backend": None, "split": "test"}
"""Evaluation settings of ``[eval]`` that are not backend options, with their defaults (``calib_images``
come from the training split; ``backend`` None = the block's own backend)."""
METRICS = {
    "accuracy": ("maximize", "mean top-1 accuracy over the chips"),
    "accuracy_worst": ("maximize", "the worst chip's top-1 accuracy"),
    "accuracy_drop": ("minimize", "quantized-ideal accuracy minus the chips' mean (points of 1)"),
    "energy_per_inference_J": ("minimize", "energy per inference, every component the backends count"),
    "tops_per_watt": ("maximize", "ops per inference / energy per inference / 1e12"),
    "analog_tops_per_watt": ("maximize", "the same over the analog layers only"),
    "latency_per_inference_s": ("minimize", "latency per inference, layers in series"),
    "area_um2": ("minimize", "area model of one converter (adc_* blocks, charz.blocks.adc.model_area)"),
}
"""Metrics a point reports (objectives are chosen among them), with their default direction."""
MAX_TRIALS = 10_000


@dataclasses.dataclass(frozen=True)
class Dim:
    """One dimension of the space."""

    name: str
    """As written in ``[space]``: a recipe argument, ``FIELD.SUB`` or ``eval.OPTION``."""
    kind: str
    """``"float"``, ``"int"`` or ``"choice"``."""
    low: float | None = None
    """Lower bound (float / int)."""
    high: float | None = None
    """Upper bound, included (float / int)."""
    step: float | None = None
    """Grid step from *low* (float / int; None = continuous, or 1 for int)."""
    log: bool = False
    """Sample the logarithm uniformly (no step)."""
    choices: tuple = ()
    """The values of a ``choice`` dimension (numbers, strings or booleans)."""

    @property
    def target(self) -> str:
        """``"eval"`` for an ``eval.`` name, else ``"characterize"``."""
        return "eval" if self.name.startswith("eval.") else "characterize"

    @property
    def key(self) -> str:
        """The name without its ``eval.`` prefix."""
        return self.name.removeprefix("eval.")

    def describe(self) -> str:
        """``low .. high (log)`` or ``{a, b}``."""
        if self.kind == "choice":
            return "{" + ", ".join(map(str, self.choices)) + "}"
        return (f"{self.low:g} .. {self.high:g}" + (f" step {self.step:g}" if self.step else "")
                + (" (log)" if self.log else ""))


@dataclasses.dataclass(frozen=True)
class Objective:
    """One objective: a metric of :data:`METRICS` and whether it is maximized or minimized."""

    metric: str
    direction: str

    @property
    def label(self) -> str:
        """``metric (max)`` / ``metric (min)``."""
        return f"{self.metric} ({self.direction[:3]})"


@dataclasses.dataclass(frozen=True)
class Space:
    """A checked design space (:func:`load_space`)."""

    dims: tuple[Dim, ...]
    """The dimensions the optimizer chooses."""
    objectives: tuple[Objective, ...]
    """What it optimizes (one or more)."""
    characterize: dict
    """Recipe arguments fixed at every point."""
    evaluation: dict
    """``[eval]``: :data:`EVAL_SETTINGS` completed with their defaults, plus fixed backend options."""
    trials: int = 16
    """Completed points wanted."""
    sampler: str = "nsga2"
    """One of :data:`SAMPLERS`."""
    seed: int = 1
    """Seed of the sampler."""
    population: int | None = None
    """NSGA-II generation size (None = min(trials, 16))."""
    source: str = ""
    """Where it was read from."""

    def digest(self) -> str:
        """SHA-256 of what the points' results depend on (dimensions, objectives, fixed settings); the
        study settings (trials, sampler, seed, population) may change between runs of one study."""
        body = {"dims": [dataclasses.asdict(d) for d in self.dims],
                "objectives": [dataclasses.asdict(o) for o in self.objectives],
                "characterize": self.characterize, "eval": self.evaluation}
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()

    def describe(self) -> dict:
        """JSON form for the study's record."""
        return {"source": self.source, "trials": self.trials, "sampler": self.sampler, "seed": self.seed,
                "population": self.population,
                "objectives": [o.label for o in self.objectives],
                "characterize": self.characterize, "eval": self.evaluation,
                "space": {d.name: d.describe() for d in self.dims}}


def _where(src: str, key: str) -> str:
    return f"{src}: {key}"


def _scalar(v, where: str):
    """A TOML value of a setting: numbers stay, strings with SPICE suffixes become numbers when they parse."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            raise ParameterError(f"{where} = {v!r}: give a finite number")
        return v
    if isinstance(v, str):
        try:
            return number(v, where)
        except ParameterError:
            return v
    if isinstance(v, list) and all(isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in v):
        return list(v)
    raise ParameterError(f"{where} = {v!r}: give a number, a string, true / false or a list of them")


def _num(v, where: str) -> float:
    if isinstance(v, bool):
        raise ParameterError(f"{where} = {v!r}: give a number")
    x = number(v, where) if isinstance(v, str) else v
    if not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ParameterError(f"{where} = {v!r}: give a finite number")
    return x


def _dim(name: str, spec, src: str) -> Dim:
    where = _where(src, f"[space] {name}")
    if not isinstance(spec, dict):
        raise ParameterError(f"{where}: write {{ low = ..., high = ... }} or {{ choices = [...] }}")
    unknown = sorted(set(spec) - {"low", "high", "step", "log", "choices", "int"})
    if unknown:
        raise ParameterError(f"{where}: unknown key {unknown[0]!r} (use low, high, step, log, int or choices)")
    if "choices" in spec:
        if set(spec) - {"choices"}:
            raise ParameterError(f"{where}: choices cannot be combined with low / high / step / log")
        ch = spec["choices"]
        if not isinstance(ch, list) or not ch:
            raise ParameterError(f"{where}: choices must be a non-empty list")
        vals = tuple(_scalar(c, f"{where} choice") for c in ch)
        if any(isinstance(v, list) for v in vals):
            raise ParameterError(f"{where}: a choice must be a number, a string or true / false")
        if len(set(map(repr, vals))) != len(vals):
            raise ParameterError(f"{where}: choices repeat a value")
        return Dim(name, "choice", choices=vals)
    if "low" not in spec or "high" not in spec:
        raise ParameterError(f"{where}: give both low and high (or choices)")
    lo, hi = _num(spec["low"], f"{where}.low"), _num(spec["high"], f"{where}.high")
    if not lo < hi:
        raise ParameterError(f"{where}: low {lo:g} must be below high {hi:g}")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ParameterError(f"{where}.log must be true or false")
    is_int = spec.get("int", isinstance(spec["low"], int) and isinstance(spec["high"], int)
                      and not isinstance(spec.get("step", 1), float))
    if not isinstance(is_int, bool):
        raise ParameterError(f"{where}.int must be true or false")
    step = None if "step" not in spec else _num(spec["step"], f"{where}.step")
    if step is not None and not 0 < step <= hi - lo:
        raise ParameterError(f"{where}.step = {step:g}: give a step above 0 and at most high - low")
    if log and (lo <= 0 or step is not None):
        raise ParameterError(f"{where}: log needs low > 0 and no step")
    if is_int:
        if lo != int(lo) or hi != int(hi) or (step is not None and step != int(step)):
            raise ParameterError(f"{where}: an integer dimension needs whole low, high and step")
        return Dim(name, "int", int(lo), int(hi), None if step is None else int(step), log)
    return Dim(name, "float", float(lo), float(hi), step, log)


def _objective(text, src: str) -> Objective:
    where = _where(src, "[study] objectives")
    if not isinstance(text, str):
        raise ParameterError(f"{where}: {text!r} is not METRIC or METRIC:max / METRIC:min")
    metric, _, d = text.partition(":")
    metric = metric.strip()
    if metric not in METRICS:
        raise ParameterError(f"{where}: unknown metric {metric!r}: choose among {', '.join(METRICS)}")
    d = d.strip().lower()
    if d not in ("", "max", "min"):
        raise ParameterError(f"{where}: {text!r}: write METRIC:max or METRIC:min")
    return Objective(metric, METRICS[metric][0] if not d else {"max": "maximize", "min": "minimize"}[d])


def _int(v, where: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ParameterError(f"{where} = {v!r}: give a whole number from {lo} to {hi}")
    return v


def parse_space(text: str, source: str = "space") -> Space:
    """A :class:`Space` from TOML *text* (*source* names it in errors); every error is one line."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{source} is not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - {"study", "characterize", "eval", "space"})
    if unknown:
        raise ParameterError(f"{source}: unknown table [{unknown[0]}] (use [study], [characterize], [eval], [space])")
    for t in doc:
        if not isinstance(doc[t], dict):
            raise ParameterError(f"{source}: {t} must be a table [{t}]")
    study = dict(doc.get("study", {}))
    bad = sorted(set(study) - {"trials", "sampler", "seed", "population", "objectives"})
    if bad:
        raise ParameterError(f"{source}: unknown [study] key {bad[0]!r} (use trials, sampler, seed, population, "
                             f"objectives)")
    trials = _int(study.get("trials", 16), f"{source}: [study] trials", 1, MAX_TRIALS)
    sampler = study.get("sampler", "nsga2")
    if sampler not in SAMPLERS:
        raise ParameterError(f"{source}: [study] sampler = {sampler!r}: choose one of {', '.join(SAMPLERS)}")
    seed = _int(study.get("seed", 1), f"{source}: [study] seed", 0, 2**31 - 1)
    population = study.get("population")
    if population is not None:
        population = _int(population, f"{source}: [study] population", 2, MAX_TRIALS)
    objs = study.get("objectives", ["accuracy_worst", "tops_per_watt"])
    if isinstance(objs, str):
        objs = [objs]
    if not isinstance(objs, list) or not objs:
        raise ParameterError(f"{source}: [study] objectives must be a non-empty list of metrics")
    objectives = tuple(_objective(o, source) for o in objs)
    if len({o.metric for o in objectives}) != len(objectives):
        raise ParameterError(f"{source}: [study] objectives name a metric twice")

    space = doc.get("space", {})
    if not space:
        raise ParameterError(f"{source}: [space] is empty: give at least one dimension, e.g. "
                             f"c_unit = {{ low = \"0.5f\", high = \"4f\", log = true }}")
    dims = tuple(_dim(str(k), v, source) for k, v in space.items())
    char = {str(k): _scalar(v, _where(source, f"[characterize] {k}")) for k, v in doc.get("characterize", {}).items()}
    ev_raw = doc.get("eval", {})
    ev = dict(EVAL_SETTINGS)
    for k, v in ev_raw.items():
        ev[str(k)] = _scalar(v, _where(source, f"[eval] {k}"))
    for k in ("images", "chips", "calib_images"):
        ev[k] = _int(ev[k], f"{source}: [eval] {k}", 0 if k == "calib_images" else 1, 1_000_000)
    ev["seed"] = _int(ev["seed"], f"{source}: [eval] seed", 0, 2**31 - 1)
    if ev["first_last"] not in ("digital", "same"):
        raise ParameterError(f"{source}: [eval] first_last = {ev['first_last']!r}: choose digital or same")
    for d in dims:
        if d.target == "eval" and d.key in EVAL_SETTINGS:
            raise ParameterError(f"{source}: [space] {d.name}: {d.key} is a study setting, not a design choice")
        if d.name in char or (d.target == "eval" and d.key in ev_raw):
            raise ParameterError(f"{source}: {d.name} is both fixed and in [space]: keep one")
    for k in ("vdd", "temp"):
        if isinstance(char.get(k), list):
            raise ParameterError(f"{source}: [characterize] {k} is one value per point (put a range in [space])")
    return Space(dims, objectives, char, ev, trials, sampler, seed, population, source)


def load_space(path) -> Space:
    """:func:`parse_space` of the file *path*, or of a shipped space ``charz/explore/spaces/NAME.toml``."""
    p = Path(path)
    if not p.is_file():
        shipped = Path(__file__).parent / "spaces" / f"{path}.toml"
        if p.suffix != ".toml" and shipped.is_file():
            p = shipped
        else:
            names = sorted(f.stem for f in (Path(__file__).parent / "spaces").glob("*.toml"))
            raise ParameterError(f"--space {path}: no such file; give a TOML file or a shipped space "
                                 f"({', '.join(names)})")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"--space {path}: cannot be read ({exc.__class__.__name__}): give a UTF-8 TOML file") \
            from None
    return parse_space(text, str(p))


def suggest(trial, dims) -> dict[str, Any]:
    """The values an Optuna *trial* draws for *dims*, by name."""
    out = {}
    for d in dims:
        if d.kind == "choice":
            out[d.name] = trial.suggest_categorical(d.name, list(d.choices))
        elif d.kind == "int":
            out[d.name] = trial.suggest_int(d.name, d.low, d.high, step=d.step or 1, log=d.log)
        else:
            v = trial.suggest_float(d.name, d.low, d.high, step=d.step, log=d.log)
            out[d.name] = float(f"{v:.6g}")  # 6 digits: one deck (and cache entry) per design, not per float
    return out
