"""``charz explore``: each point of a design space characterized in ngspice, fitted into a LUT and evaluated
on a network, searched by an Optuna sampler with the study in SQLite (resumable, shareable).

A point is one Optuna trial:

1. the sampler draws the dimensions of the :class:`~charz.explore.space.Space`;
2. the block is characterized with them (:func:`recipe_kwargs` turns names into recipe arguments; the
   generators validate every value; the result cache and the executor are the ones of ``charz
   characterize``), and its LUT is saved as ``OUT/points/NNNN/<block>.json/.npz`` with its provenance;
3. the network runs on that LUT (:func:`charz.network.engine.evaluate_model`: the block's backend, the
   LUT in the backend option the block feeds, the ``eval.`` dimensions as backend options, at the point's
   VDD / temperature) and the metrics of :data:`~charz.explore.space.METRICS` are taken from its result;
4. the objectives go back to Optuna; every metric, the LUT path and the elapsed times are the trial's user
   attributes and ``points/NNNN/point.json``.

A point whose simulation fails (NaN in the LUT, an ngspice error) is a failed trial and the search goes on;
a bad name or value in the space stops the run with one line (the points already done stay in the study).
:func:`write_report` writes the Pareto front (``pareto.md``, ``pareto.png``) and every point
(``points.json``)."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

from ..blocks import REGISTRY
from ..blocks.base import Block
from ..core.errors import CharzError, LUTError, ParameterError, SimulationError
from ..core.params import Instance, spec
from .space import COMMON, EVAL_SETTINGS, METRICS, Space, suggest

STUDY_NAME = "charz-explore"
DB_NAME = "study.db"
POINTS = "points"
RECORD = "explore.json"
HEARTBEAT_S = 60
"""A running point's heartbeat in the study's storage (Optuna's RDBStorage heartbeat_interval) [s]."""
GRACE_S = 300
"""A running point whose heartbeat is older than this is failed by the next process that runs a point (its
process was killed) [s]."""


def need_optuna():
    """The optuna module, or a one-line error saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise ParameterError("charz explore needs Optuna: pip install 'charz[explore]' (or pip install optuna)") \
            from None
    import warnings

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # charz prints one line per point itself
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


# ---- where a block's LUT goes in the network ------------------------------------------------------------
SLOTS = {"cim_column": ("cim", "lut"), "wht_column": ("wht", "lut"), "td_delay": ("td_mac", "delay_lut"),
         "td_tdc": ("td_mac", "tdc_lut"), "td_acc": ("td_mac", "acc_lut")}
"""Blocks other than the converters: (backend, backend option) that reads their LUT."""


def explorable() -> tuple[str, ...]:
    """The blocks ``charz explore`` takes: those whose LUT a network backend reads (:func:`lut_slot`)."""
    return tuple(k for k in REGISTRY.kinds if k.startswith("adc_") or k in SLOTS)


def lut_slot(kind: str) -> tuple[str, str]:
    """(backend, backend option) that reads a LUT of *kind*: converters read out the ``cim`` columns
    (``adc_lut``), a column LUT is the ``cim`` backend's ``lut``, a WHT column LUT the ``wht`` backend's, the
    TD-MAC's delay-line, TDC and accumulation LUTs the ``td_mac`` backend's ``delay_lut`` / ``tdc_lut`` /
    ``acc_lut``."""
    if kind.startswith("adc_"):
        return "cim", "adc_lut"
    if kind in SLOTS:
        return SLOTS[kind]
    raise ParameterError(f"charz explore evaluates blocks that a network backend reads ({', '.join(explorable())}), "
                         f"not {kind}")


# ---- names of the space -> recipe arguments ------------------------------------------------------------
def _fields(block: Block) -> dict:
    out = {}
    for cls in block.param_classes():
        for f in dataclasses.fields(cls):
            if f.name not in ("pdk", "kind", "vdd", "temp"):
                out.setdefault(f.name, spec(f)[0])
    return out


def _nested(constraint):
    cls = getattr(constraint, "cls", None) if isinstance(constraint, Instance) else None
    return cls if cls is not None and hasattr(cls, "default") else None


def check_names(block: Block, kind: str, names) -> None:
    """A one-line ``ParameterError`` for a characterization name that *kind*'s recipe cannot take (before
    anything runs); the message lists what it takes."""
    opts = {o.key: o for o in block.options if block.accepts(o, kind)}
    fields = _fields(block)
    for name in names:
        head, dot, sub = name.partition(".")
        if not dot and (name in COMMON or name in opts or name in fields):
            continue
        if dot and head in opts and opts[head].type == "list" and sub:
            continue
        if dot and _nested(fields.get(head)) is not None:
            _nested(fields[head]).check_names([sub])
            continue
        nested = sorted(f"{k}.*" for k, c in fields.items() if _nested(c) is not None)
        raise ParameterError(
            f"'{name}' is not a parameter of {kind}: use {', '.join(COMMON)}, an option "
            f"({', '.join(sorted(opts)) or 'none'}), a generator parameter ({', '.join(sorted(fields))})"
            + (f" or a nested one ({', '.join(nested)})" if nested else "") + ", or eval.OPTION for the network")


def recipe_kwargs(block: Block, kind: str, pdk, values: dict) -> dict:
    """Recipe arguments of *kind* from *values* (name -> value, as in ``[characterize]`` / ``[space]``):
    ``vdd`` / ``temp`` as one-point grids, options by keyword (a ``str`` option gets the value's text, an
    ``int`` one a whole number), generator parameters as given, ``FIELD.SUB`` as the PDK's default nested
    object with SUB changed, ``LIST.NAME`` as a ``NAME=VALUE`` entry of a list option."""
    check_names(block, kind, values)
    opts = {o.key: o for o in block.options if block.accepts(o, kind)}
    fields = _fields(block)
    kw: dict = {}
    nested: dict[str, dict] = {}
    lists: dict[str, list] = {}
    for name, v in values.items():
        head, dot, sub = name.partition(".")
        if name in ("vdd", "temp"):
            kw[name] = [float(v)]
        elif name in ("mc", "seed"):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ParameterError(f"{name} = {v!r}: give a whole number >= 0")
            kw[name] = v
        elif dot and head in opts:
            lists.setdefault(head, []).append(f"{sub}={v!r}")
        elif dot:
            nested.setdefault(head, {})[sub] = v
        elif name in opts:
            o = opts[name]
            if o.type == "int" and (isinstance(v, bool) or not isinstance(v, int)):
                raise ParameterError(f"{name} = {v!r}: give a whole number")
            if o.type == "flag" and not isinstance(v, bool):
                raise ParameterError(f"{name} = {v!r}: give true or false")
            if o.type == "str" and not isinstance(v, str):
                v = ",".join(map(repr, v)) if isinstance(v, list) else repr(v)
            if o.choices and v not in o.choices:
                raise ParameterError(f"{name} = {v!r}: choose one of {', '.join(map(str, o.choices))}")
            kw[o.key] = v
        else:
            kw[name] = v
    for head, subs in nested.items():
        kw[head] = _nested(fields[head]).default(pdk).replace(**subs)
    for head, items in lists.items():
        kw[head] = items
    return kw


# ---- one point ------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Context:
    """What every point of one run shares."""

    space: Space
    block: Block
    kind: str
    pdk: object
    out: Path
    model: Path
    data: object
    calib: object
    sim: dict
    """``executor``, ``use_cache``, ``progress``, ``fit_check`` for the recipe."""
    log: object = print


def _metrics(res: dict, lut) -> dict:
    accs = res["accuracy_per_chip"]
    ideal = res.get("ideal_accuracy")
    area = (lut.conditions.get("area_model") or {}).get("total_um2") if lut.block.startswith("adc_") else None
    return {
        "accuracy": res["accuracy_mean"],
        "accuracy_worst": float(min(accs)),
        "accuracy_drop": None if ideal is None else ideal - res["accuracy_mean"],
        "energy_per_inference_J": res["energy_per_inference_J"],
        "tops_per_watt": res["tops_per_watt"],
        "analog_tops_per_watt": res["analog_tops_per_watt"],
        "latency_per_inference_s": res["latency_per_inference_s"],
        "area_um2": area,
        "ideal_accuracy": ideal,
        "float_accuracy": res.get("float_accuracy"),
        "accuracy_per_chip": list(accs),
    }


def run_point(ctx: Context, number: int, values: dict) -> dict:
    """Characterize, save and evaluate one point (*values*: the drawn dimensions by name); returns its
    record (the metrics, the LUT path, times). Raises ``SimulationError`` / ``LUTError`` when the point
    failed, ``ParameterError`` for a value its generator refuses."""
    from ..core.lut import lut_base
    from ..network import mapping as mp
    from ..network.engine import evaluate_model

    sp = ctx.space
    char_values = {**sp.characterize, **{k: v for k, v in values.items() if not k.startswith("eval.")}}
    kw = recipe_kwargs(ctx.block, ctx.kind, ctx.pdk, char_values)
    folder = ctx.out / POINTS / f"{number:04d}"
    t0 = time.time()
    try:
        lut = ctx.block.characterize(ctx.kind, ctx.pdk, **kw, **ctx.sim)
    except TypeError as exc:  # an argument this recipe does not take
        raise ParameterError(f"{ctx.kind}: {exc}: remove it from the space") from None
    failed = lut.provenance.get("failed_points") or []
    path = lut.save(folder / ctx.kind, if_exists="replace")  # the folder is this trial's own
    t_char = time.time() - t0
    if failed:
        raise SimulationError(f"{len(failed)} point(s) of the sweep failed ({failed[0]}); the LUT is kept in {path}")
    backend, slot = lut_slot(ctx.kind)
    backend = sp.evaluation.get("backend") or backend
    opts = {k: v for k, v in sp.evaluation.items() if k not in EVAL_SETTINGS}
    opts.update({k.removeprefix("eval."): v for k, v in values.items() if k.startswith("eval.")})
    opts[slot] = str(lut_base(path))
    for k in ("vdd", "temp"):
        if k in char_values and k not in opts:
            opts[k] = float(char_values[k])
    mapping = mp.default_mapping(backend, sp.evaluation["first_last"], **opts)
    ev = sp.evaluation
    t1 = time.time()
    res = evaluate_model(str(ctx.model), ctx.data.images, ctx.data.labels, mapping, chips=ev["chips"],
                         seed=ev["seed"], calib_images=None if ctx.calib is None else ctx.calib.images,
                         **({"calib_count": ev["calib_images"]} if ctx.calib is not None else {}))
    rec = {
        "number": number, "values": values, "metrics": _metrics(res, lut),
        "lut": str(path), "netlist_set_sha256": lut.provenance.get("netlist_set_sha256"),
        "mc_samples": lut.provenance.get("mc_samples"), "backend": backend, "backend_options": opts,
        "characterize_s": round(t_char, 2), "evaluate_s": round(time.time() - t1, 2),
        "energy_by_component_J": res["energy_by_component_J"],
    }
    (folder / "point.json").write_text(json.dumps(rec, indent=1, default=str) + "\n")
    return rec


# ---- the study ------------------------------------------------------------------------------------------
def open_study(out: Path, space: Space, kind: str, *, resume: bool):
    """The Optuna study in ``OUT/study.db``: new (OUT must not hold one, or anything else), or, with
    *resume*, the one there when it was made for the same block and space."""
    optuna = need_optuna()
    db = out / DB_NAME
    record = out / RECORD
    if db.exists() and not resume:
        raise ParameterError(f"{out} already holds a study: give --resume to continue it, or choose another --out")
    if not db.exists():
        if out.exists() and any(out.iterdir()):
            raise ParameterError(f"--out {out} is not empty and holds no study: choose an empty or new folder")
        if resume:
            raise ParameterError(f"--resume: {out} holds no study ({DB_NAME}): leave --resume out to start one")
    out.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.RDBStorage(f"sqlite:///{db.resolve()}", heartbeat_interval=HEARTBEAT_S,
                                         grace_period=GRACE_S)
    directions = [o.direction for o in space.objectives]
    study = optuna.create_study(study_name=STUDY_NAME, storage=storage, directions=directions,
                                sampler=_sampler(optuna, space, 0), load_if_exists=True)
    attrs = study.user_attrs
    if attrs:
        if attrs.get("block") != kind or attrs.get("space_sha256") != space.digest():
            raise ParameterError(f"{out} holds a study of another block or space ({attrs.get('block')}, "
                                 f"{attrs.get('space_source')}): give its space unchanged, or choose another --out")
    else:
        study.set_user_attr("block", kind)
        study.set_user_attr("space_sha256", space.digest())
        study.set_user_attr("space_source", space.source)
        study.set_user_attr("space", space.describe())
    return study


def _sampler(optuna, space: Space, done: int):
    seed = space.seed + done  # a resumed run does not redraw the first run's points
    if space.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=space.population or min(space.trials, 16), seed=seed)
    if space.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    return optuna.samplers.RandomSampler(seed=seed)


def counts(study) -> tuple[int, int]:
    """(completed, failed) trials of *study*."""
    from optuna.trial import TrialState

    states = [t.state for t in study.get_trials(deepcopy=False)]
    return states.count(TrialState.COMPLETE), states.count(TrialState.FAIL)


def explore(ctx: Context, study, trials: int | None = None) -> dict:
    """Run points until the study has *trials* completed ones (default: the space's), or until as many
    points as that failed in this run (Optuna's ``optimize``, one trial at a time, so that the storage's
    heartbeat marks a point whose process was killed as failed). Returns the counts of this run."""
    optuna = need_optuna()
    want = trials or ctx.space.trials
    state = {"ran": 0, "failed": 0, "error": None}
    objectives = ctx.space.objectives

    def objective(trial):
        values = suggest(trial, ctx.space.dims)
        ctx.log(f"point {trial.number}: " + ", ".join(f"{k}={_short(v)}" for k, v in values.items()))
        try:
            rec = run_point(ctx, trial.number, values)
        except (SimulationError, LUTError, ParameterError) as exc:
            msg = " ".join(str(exc).split())
            trial.set_user_attr("error", msg[:500])
            if not isinstance(exc, ParameterError):
                ctx.log(f"point {trial.number} failed: {msg[:200]}")
                state["failed"] += 1
                state["error"] = state["error"] or exc
            raise
        for k, v in rec.items():
            if k != "values":
                trial.set_user_attr(k, v)
        vals = [rec["metrics"][o.metric] for o in objectives]
        missing = [o.metric for o, v in zip(objectives, vals) if v is None or not math.isfinite(v)]
        if missing:
            trial.set_user_attr("error", f"objective(s) {', '.join(missing)} not available for this point")
            raise ParameterError(f"objective {missing[0]} is not available for {ctx.kind} on this network: choose "
                                 f"objectives among the metrics it reports (points.json lists them)")
        state["ran"] += 1
        shown = ", ".join(f"{o.metric} {_fmt(o.metric, v)}" for o, v in zip(objectives, vals))
        ctx.log(f"point {trial.number}: {shown} ({rec['characterize_s']:.0f} s characterize, "
                f"{rec['evaluate_s']:.0f} s evaluate)")
        return vals

    done, _ = counts(study)
    while done < want and state["failed"] < max(3, want):
        study.sampler = _sampler(optuna, ctx.space, len(study.get_trials(deepcopy=False)))
        study.optimize(objective, n_trials=1, catch=(SimulationError, LUTError), gc_after_trial=False)
        done, _ = counts(study)
    if done == 0 and state["error"] is not None:
        raise state["error"]
    return {"completed_this_run": state["ran"], "failed_this_run": state["failed"], "completed": done}


def _short(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _fmt(metric: str, v) -> str:
    if v is None:
        return "-"
    if metric.startswith("accuracy"):
        return f"{100 * v:.2f} %"
    if metric.endswith("_J"):
        return f"{v * 1e12:.2f} pJ"
    if metric.endswith("_s"):
        return f"{v * 1e9:.2f} ns"
    if metric.endswith("um2"):
        return f"{v:.1f} um2"
    return f"{v:.1f}"


# ---- report ---------------------------------------------------------------------------------------------
def points(study) -> list[dict]:
    """Every completed point of *study*: number, values, metrics, LUT, on the Pareto front or not."""
    from optuna.trial import TrialState

    front = {t.number for t in study.best_trials}
    out = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        a = t.user_attrs
        out.append({"number": t.number, "values": dict(t.params), "objectives": list(t.values),
                    "metrics": a.get("metrics", {}), "lut": a.get("lut"), "pareto": t.number in front,
                    "characterize_s": a.get("characterize_s"), "evaluate_s": a.get("evaluate_s")})
    return out


def failures(study) -> list[dict]:
    """The failed points of *study* with their reasons."""
    from optuna.trial import TrialState

    return [{"number": t.number, "values": dict(t.params), "error": t.user_attrs.get("error", "interrupted")}
            for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))]


def markdown(study, space: Space, title: str) -> str:
    """The Pareto front, then every point, as Markdown tables."""
    pts = points(study)
    names = [d.name for d in space.dims]
    metrics = [o.metric for o in space.objectives] + [m for m in METRICS if m not in
                                                       [o.metric for o in space.objectives]]
    metrics = [m for m in metrics if any(p["metrics"].get(m) is not None for p in pts)]

    def table(rows):
        head = "| point | " + " | ".join(names) + " | " + " | ".join(metrics) + " | LUT |"
        lines = [head, "|" + "---|" * (len(names) + len(metrics) + 2)]
        for p in rows:
            lines.append(f"| {p['number']} | " + " | ".join(_short(p["values"].get(n)) for n in names) + " | "
                         + " | ".join(_fmt(m, p["metrics"].get(m)) for m in metrics) + f" | {p['lut']} |")
        return "\n".join(lines)

    front = sorted((p for p in pts if p["pareto"]), key=lambda p: p["objectives"][0])
    fails = failures(study)
    obj = ", ".join(o.label for o in space.objectives)
    return (f"# {title}\n\nObjectives: {obj}. {len(pts)} points completed, {len(fails)} failed.\n\n"
            f"## Pareto front ({len(front)} points)\n\n{table(front)}\n\n## Every point\n\n"
            f"{table(sorted(pts, key=lambda p: p['number']))}\n"
            + (("\n## Failed points\n\n" + "\n".join(f"- {f['number']}: {f['error']}" for f in fails) + "\n")
               if fails else ""))


def write_report(study, space: Space, out: Path, title: str) -> list[Path]:
    """``pareto.md``, ``points.json`` and ``pareto.png`` (with at least one completed point) in *out*."""
    from .plots import plot_pareto

    paths = []
    md = out / "pareto.md"
    md.write_text(markdown(study, space, title))
    paths.append(md)
    js = out / "points.json"
    js.write_text(json.dumps({"space": space.describe(), "objectives": [o.label for o in space.objectives],
                              "points": points(study), "failed": failures(study)}, indent=1, default=str) + "\n")
    paths.append(js)
    pts = points(study)
    if pts:
        paths.append(plot_pareto(pts, space, out / "pareto.png", title))
    return paths
