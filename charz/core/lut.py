"""Lookup tables: the contract between the circuit half and the network half.

A :class:`LUT` holds named axes with units, one or more tables on that grid (mean, sigma, ...),
optionally the Monte Carlo samples (one extra trailing dimension), fixed conditions, provenance and a
fit-quality report. On disk it is two files side by side:

- ``NAME.npz``: the arrays (``allow_pickle=False`` on load);
- ``NAME.json``: schema version, block kind, axes, units, provenance, fit quality, the sha256 of
  the ``.npz`` (``npz_sha256``) so a damaged or swapped array file is detected, and the sha256 of the
  JSON content itself (``json_sha256``: of the canonical JSON of every other field, see
  :func:`json_checksum`), so an edited axis value, unit or provenance field is detected too.

NAME is kept whole: only a trailing ``.json`` / ``.npz`` is stripped and the suffixes are appended, so
``bc_vdd0.6`` is ``bc_vdd0.6.json`` + ``bc_vdd0.6.npz`` (:func:`lut_files`; use it wherever a LUT path
becomes file names). :meth:`LUT.save` writes both files atomically (a temporary file in the same folder,
then ``os.replace``; the ``.npz`` first) and can refuse or divert instead of replacing an existing LUT.
:meth:`LUT.load` refuses a LUT whose JSON content does not match ``json_sha256`` or that has no
``json_sha256`` (written by an older charz: regenerate it, or ``charz lut seal PATH`` if you trust it,
see :func:`seal`), and warns once per file on stderr when the LUT's model card (provenance ``pdk``,
``card_sha256``) is not the card the manifest lists under that name.

The two checksums guard integrity against accidental or careless edits and damaged copies; they are
not a signature: anyone who edits a file on purpose can recompute them.

A command's default LUT (used when no path is given) is looked up by PDK and name on a search path:
``CHARZ_LUT_PATH``, the LUTs installed with charz, the checkout's ``lut/`` (:func:`find_default`). A path
the user gives is used as given.

Interpolation is linear along continuous axes (``scipy.interpolate.interp1d``), exact along discrete
axes (such as the number of active cells k). Asking outside the grid is an error, never an extrapolation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from .errors import LUTError

SCHEMA = 1


class Kind:
    """The LUT kinds: the ``block`` a recipe writes into a LUT and a reader checks (``LUT.load(path,
    block=Kind.CIM_COLUMN)``). One constant per kind; the values are the strings in the LUT files on disk
    (and the netlist generators' block names), so never change one."""

    BITCELL6T = "bitcell6t"
    BITCELL8T = "bitcell8t"
    CIM_COLUMN = "cim_column"
    COMPARATOR = "comparator"
    ADC_SAR = "adc_sar"
    ADC_MI_SAR = "adc_mi_sar"
    ADC_FLASH = "adc_flash"
    ADC_HYBRID = "adc_hybrid"
    WHT_COLUMN = "wht_column"
    TD_DELAY = "td_delay"
    TD_TDC = "td_tdc"
    TD_ACC = "td_acc"
    TD_ARBITER = "td_arbiter"
    CAM_SRAM = "cam_sram"
    CAM_MTJ = "cam_mtj"
    DCIM_ADD = "dcim_add"


KINDS = (Kind.BITCELL6T, Kind.BITCELL8T, Kind.CIM_COLUMN, Kind.COMPARATOR, Kind.ADC_SAR, Kind.ADC_MI_SAR,
         Kind.ADC_FLASH, Kind.ADC_HYBRID, Kind.WHT_COLUMN, Kind.TD_DELAY, Kind.TD_TDC, Kind.TD_ACC, Kind.TD_ARBITER,
         Kind.CAM_SRAM, Kind.CAM_MTJ, Kind.DCIM_ADD)
"""Every LUT kind, in the order ``charz characterize`` lists its blocks."""
ADC_KINDS = (Kind.ADC_SAR, Kind.ADC_MI_SAR, Kind.ADC_FLASH, Kind.ADC_HYBRID)
"""The converter kinds (the LUT contract of :mod:`charz.blocks.adc.model`)."""
TD_KINDS = (Kind.TD_DELAY, Kind.TD_TDC, Kind.TD_ACC, Kind.TD_ARBITER)
"""The time-domain MAC's block LUTs (:mod:`charz.blocks.td_mac.recipe`)."""


@dataclasses.dataclass(frozen=True)
class Axis:
    """One LUT axis: name, unit and strictly increasing values (``LUTError`` otherwise); continuous axes are
    interpolated linearly, discrete ones looked up exactly."""

    name: str
    unit: str
    values: np.ndarray
    discrete: bool = False
    """Discrete axes (counts, codes) are looked up exactly, never interpolated."""

    def __post_init__(self):
        v = np.asarray(self.values, dtype=float)
        if v.ndim != 1 or v.size < 1:
            raise LUTError(f"axis {self.name} needs a 1-D list of values")
        if v.size > 1 and np.any(np.diff(v) <= 0):
            raise LUTError(f"axis {self.name} values must be strictly increasing")
        object.__setattr__(self, "values", v)

    def to_json(self) -> dict:
        """The axis as a JSON-ready dict (name, unit, values, discrete)."""
        return {"name": self.name, "unit": self.unit, "values": self.values.tolist(), "discrete": self.discrete}


@dataclasses.dataclass
class LUT:
    """A characterized block: axes with units, tables on the axis grid (each with a unit), Monte Carlo samples
    (grid + (n,)), other arrays, conditions, provenance and fit quality. Shapes and units are checked on
    creation (``LUTError``)."""

    block: str
    axes: tuple[Axis, ...]
    tables: dict[str, np.ndarray]
    units: dict[str, str]
    samples: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    conditions: dict = dataclasses.field(default_factory=dict)
    provenance: dict = dataclasses.field(default_factory=dict)
    fit_quality: dict = dataclasses.field(default_factory=dict)
    arrays: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    """Other arrays worth keeping (e.g. the Monte Carlo draws), saved as-is."""

    def __post_init__(self):
        shape = self.shape
        for name, t in self.tables.items():
            if np.shape(t) != shape:
                raise LUTError(f"table {name} has shape {np.shape(t)}, the axes give {shape}")
            if name not in self.units:
                raise LUTError(f"table {name} has no unit")
        for name, s in self.samples.items():
            if np.shape(s)[:-1] != shape:
                raise LUTError(f"samples {name} have shape {np.shape(s)}, expected {shape} + (n,)")

    # ---- grid -------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The grid shape: number of values of each axis, in axis order."""
        return tuple(a.values.size for a in self.axes)

    def axis(self, name: str) -> Axis:
        """The axis called *name*; ``LUTError`` naming the axes when there is none."""
        for a in self.axes:
            if a.name == name:
                return a
        raise LUTError(f"{self.block} LUT has no axis '{name}' (axes: {', '.join(a.name for a in self.axes)})")

    def _reduce(self, arr: np.ndarray, coords: dict) -> np.ndarray:
        unknown = set(coords) - {a.name for a in self.axes}
        if unknown:
            raise LUTError(f"{self.block} LUT has no axis {sorted(unknown)} (axes: {[a.name for a in self.axes]})")
        out = np.asarray(arr, dtype=float)
        # walk axes from last to first so earlier axis indices stay valid
        for idx in reversed(range(len(self.axes))):
            ax = self.axes[idx]
            if ax.name not in coords:
                continue
            x = float(coords[ax.name])
            v = ax.values
            hit = np.flatnonzero(np.isclose(v, x, rtol=0, atol=1e-9 * max(abs(x), float(np.max(np.abs(v))))))
            if hit.size:
                out = np.take(out, hit[0], axis=idx)
                continue
            if ax.discrete or v.size < 2:
                raise LUTError(
                    f"{ax.name}={x:g} is not on the {self.block} LUT grid {v.tolist()} ({ax.unit}): "
                    f"use a grid value or re-characterize with this point"
                )
            if not (v[0] <= x <= v[-1]):
                raise LUTError(
                    f"{ax.name}={x:g} {ax.unit} is outside the {self.block} LUT range [{v[0]:g}, {v[-1]:g}]: "
                    f"re-characterize with a wider {ax.name} grid"
                )
            from scipy.interpolate import interp1d  # here, not at the top: the CLI imports Kind at start-up

            out = interp1d(v, out, axis=idx, kind="linear", assume_sorted=True)(x)
        return out

    def default_coord(self, name: str) -> tuple[float, str] | None:
        """The operating value of axis *name* when none is given, and why: the only grid value; for
        ``vdd`` the PDK's nominal VDD (provenance ``vdd_nom``) when inside the grid, else the highest
        grid VDD; for ``temp`` 27 degC when inside the grid, else the nearest grid value. None for other
        axes (the caller decides)."""
        v = self.axis(name).values
        if v.size == 1:
            return float(v[0]), "only grid value"
        if name == "vdd":
            vn = self.provenance.get("vdd_nom")
            if vn is not None and v[0] <= float(vn) <= v[-1]:
                return float(vn), "PDK nominal VDD"
            return float(v[-1]), "highest grid VDD"
        if name == "temp":
            if v[0] <= 27.0 <= v[-1]:
                return 27.0, "27 degC"
            return float(v[np.argmin(np.abs(v - 27.0))]), "grid value nearest 27 degC"
        return None

    def slice(self, table: str, **coords) -> np.ndarray:
        """*table* at the given coordinates; axes not given stay as dimensions (in axis order)."""
        if table not in self.tables:
            raise LUTError(f"{self.block} LUT has no table '{table}' (tables: {', '.join(self.tables)})")
        return self._reduce(self.tables[table], coords)

    def sample_slice(self, name: str, **coords) -> np.ndarray:
        """Monte Carlo samples of *name* at the coordinates; trailing dimension = sample."""
        if name not in self.samples:
            raise LUTError(f"{self.block} LUT holds no Monte Carlo samples of '{name}'")
        return self._reduce(self.samples[name], coords)

    def value(self, table: str, **coords) -> float:
        """One number of *table*: every axis must be given (``LUTError`` otherwise); see :meth:`slice`."""
        missing = [a.name for a in self.axes if a.name not in coords]
        if missing:
            raise LUTError(f"give a value for {missing} to read one number from the {self.block} LUT")
        return float(self.slice(table, **coords))

    # ---- persistence ------------------------------------------------------------------------------
    def _npz_bytes(self) -> bytes:
        arrays = {f"table/{k}": np.asarray(v, dtype=float) for k, v in self.tables.items()}
        arrays.update({f"samples/{k}": np.asarray(v, dtype=float) for k, v in self.samples.items()})
        arrays.update({f"array/{k}": np.asarray(v) for k, v in self.arrays.items()})
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    def metadata(self, npz_sha256: str) -> dict:
        """The ``.json`` content: every field plus ``json_sha256``, the checksum of all the others."""
        meta = {
            "schema": SCHEMA,
            "block": self.block,
            "axes": [a.to_json() for a in self.axes],
            "units": self.units,
            "tables": sorted(self.tables),
            "samples": sorted(self.samples),
            "arrays": sorted(self.arrays),
            "conditions": self.conditions,
            "provenance": self.provenance,
            "fit_quality": self.fit_quality,
            "npz_sha256": npz_sha256,
        }
        # normalise through JSON (numpy scalars, tuples, Paths) so the checksum is the one load() recomputes
        meta = json.loads(json.dumps(meta, default=_json_default))
        meta["json_sha256"] = json_checksum(meta)
        return meta

    def save(self, path: str | Path, if_exists: str = "replace") -> Path:
        """Write PATH.npz and PATH.json and return the ``.json`` path. PATH may end in ``.json``, ``.npz``
        or neither; any other dot stays part of the name.

        Both files are written atomically (temporary file in the same folder, then ``os.replace``; the
        ``.npz`` first). When a LUT of that name exists (either file), *if_exists* decides: ``"replace"``
        overwrites it, ``"error"`` raises a LUTError, ``"next"`` writes to the first free ``PATH.1``,
        ``PATH.2``, ... instead (the returned path tells which)."""
        if if_exists not in ("replace", "error", "next"):
            raise ValueError(f"if_exists={if_exists!r}: use 'replace', 'error' or 'next'")
        base = lut_base(path)
        if if_exists != "replace" and lut_exists(base):
            if if_exists == "error":
                raise LUTError(f"LUT {lut_files(base)[0]} already exists: give --force to replace it or choose "
                               f"another -o")
            base = next_free(base)
        base.parent.mkdir(parents=True, exist_ok=True)
        jpath, npath = lut_files(base)
        data = self._npz_bytes()
        meta = self.metadata(hashlib.sha256(data).hexdigest())
        _atomic_write(npath, data)
        _atomic_write(jpath, (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode())
        return jpath

    @classmethod
    def load(cls, path: str | Path, block: str | None = None) -> "LUT":
        """Read a LUT; *block* checks the kind. Every problem is a LUTError saying what to do: a missing,
        corrupt or edited ``.json`` (``json_sha256``), a ``.json`` without ``json_sha256``, a missing or
        damaged ``.npz`` (``npz_sha256``), the wrong schema or kind. A model card that differs from the
        manifest's card of the same name is a one-line warning on stderr (once per file and process)."""
        base = lut_base(path)
        jpath, npath = lut_files(base)
        meta = _read_meta(jpath)
        _verify_json(meta, jpath, base)
        if block is not None and meta.get("block") != block:
            raise LUTError(f"LUT {jpath} is a '{meta.get('block')}' table, a '{block}' table is needed here")
        data = _read_npz(meta, jpath, npath)
        lut = cls._from_parts(meta, data, base)
        _warn_card(lut, jpath)
        return lut

    @classmethod
    def _from_parts(cls, meta: dict, data: bytes, base: Path) -> "LUT":
        _check_shape(meta, base)
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            axes = tuple(Axis(a["name"], a["unit"], np.asarray(a["values"]), bool(a["discrete"])) for a in meta["axes"])
            return cls(
                block=meta["block"],
                axes=axes,
                tables={k: arrays[f"table/{k}"] for k in meta["tables"]},
                units=dict(meta["units"]),
                samples={k: arrays[f"samples/{k}"] for k in meta["samples"]},
                conditions=meta.get("conditions", {}),
                provenance=meta.get("provenance", {}),
                fit_quality=meta.get("fit_quality", {}),
                arrays={k: arrays[f"array/{k}"] for k in meta.get("arrays", [])},
            )
        except LUTError:
            raise
        except Exception as exc:
            raise LUTError(f"LUT {base} is corrupt ({type(exc).__name__}: {exc}): regenerate it with `charz characterize`") from exc

    def check_pdk(self, card_sha256: str) -> None:
        """Refuse to mix a LUT with a different model card than the one in use."""
        have = self.provenance.get("card_sha256")
        if have != card_sha256:
            raise LUTError(
                f"{self.block} LUT was made with card sha256 {str(have)[:12]}... but the card in use is "
                f"{card_sha256[:12]}...: regenerate the LUT for this PDK or pick the matching one"
            )

    # ---- display ----------------------------------------------------------------------------------
    def summary(self) -> str:
        """Text for ``charz lut show``: axes, conditions, every table's unit and range, Monte Carlo samples,
        provenance and fit quality."""
        p = self.provenance
        lines = [f"LUT {self.block}  (schema {SCHEMA})"]
        for a in self.axes:
            kind = "discrete" if a.discrete else "interpolated"
            vals = a.values
            shown = ", ".join(f"{v:g}" for v in vals) if vals.size <= 8 else f"{vals[0]:g} .. {vals[-1]:g} ({vals.size} points)"
            lines.append(f"  axis {a.name:<8} [{a.unit}] {kind}: {shown}")
        for k, v in self.conditions.items():
            lines.append(f"  condition {k} = {v}")
        for name in sorted(self.tables):
            t = self.tables[name]
            if np.isfinite(t).any():
                lines.append(f"  table {name:<16} [{self.units[name]}]  min {np.nanmin(t):.4g}  max {np.nanmax(t):.4g}")
            else:
                lines.append(f"  table {name:<16} [{self.units[name]}]  no finite value (failed points)")
        for name, s in sorted(self.samples.items()):
            lines.append(f"  samples {name:<14} {s.shape[-1]} Monte Carlo samples per grid point")
        lines.append("  provenance:")
        for k in sorted(p):
            lines.append(f"    {k}: {p[k]}")
        if self.fit_quality:
            lines.append("  fit quality (SPICE re-runs vs the LUT):")
            for name, fq in sorted(self.fit_quality.items()):
                rel = fq.get("max_rel_err")
                extra = [f"max rel err {100 * rel:.2f}%"] if isinstance(rel, (int, float)) else []
                extra += [f"{k.replace('_', ' ')} {_num(100 * fq[k], '.1f') if isinstance(fq[k], (int, float)) else fq[k]}%"
                          for k in ("within_1_lsb", "exact") if k in fq]
                err = fq.get("max_abs_err")
                lines.append(f"    {name}: {fq.get('points', 0)} points, max |err| "
                             f"{_num(err, '.3g')} {fq.get('unit', '')}"
                             + "".join(f", {x}" for x in extra))
        else:
            lines.append("  fit quality: not measured")
        return "\n".join(lines)


def fit_quality_entry(predicted, simulated, unit: str, points: list[dict]) -> dict:
    """Compare interpolated LUT values with SPICE re-runs at off-grid points."""
    p = np.asarray(predicted, dtype=float).ravel()
    s = np.asarray(simulated, dtype=float).ravel()
    err = np.abs(p - s)
    scale = np.maximum(np.abs(s), 1e-30)
    return {
        "points": int(p.size),
        "max_abs_err": float(err.max()) if err.size else float("nan"),
        "rms_err": float(np.sqrt(np.mean(err**2))) if err.size else float("nan"),
        "max_rel_err": float((err / scale).max()) if err.size else float("nan"),
        "unit": unit,
        "where": points,
    }


# ---- file names, checksums, sealing ------------------------------------------------------------------
SUFFIXES = (".json", ".npz")


def lut_base(path: str | Path) -> Path:
    """PATH without a trailing ``.json`` / ``.npz``. Any other dot is part of the name (``bc_vdd0.6``,
    ``col.1``): never ``Path.with_suffix`` on a LUT name."""
    p = Path(path)
    for suf in SUFFIXES:
        if p.name.endswith(suf) and len(p.name) > len(suf):
            return p.with_name(p.name[: -len(suf)])
    return p


def lut_files(path: str | Path) -> tuple[Path, Path]:
    """``(NAME.json, NAME.npz)`` of a LUT path given with either suffix or none."""
    base = lut_base(path)
    if base.name in ("", ".", ".."):
        raise LUTError(f"{str(path)!r} is not a LUT path: give NAME, NAME.json or NAME.npz")
    return base.with_name(base.name + ".json"), base.with_name(base.name + ".npz")


def lut_exists(path: str | Path) -> bool:
    """True when either file of the LUT exists."""
    return any(f.exists() for f in lut_files(path))


def next_free(path: str | Path) -> Path:
    """The first of ``NAME.1``, ``NAME.2``, ... of which neither file exists."""
    base = lut_base(path)
    n = 1
    while lut_exists(base.with_name(f"{base.name}.{n}")):
        n += 1
    return base.with_name(f"{base.name}.{n}")


_base = lut_base  # older name


# ---- default LUTs: the search path ---------------------------------------------------------------------
LUT_PATH_ENV = "CHARZ_LUT_PATH"
"""Environment variable: folders (``os.pathsep``-separated) searched first for default LUTs."""


def lut_search_path() -> list[Path]:
    """Folders searched for a default LUT ``<folder>/<pdk>/<name>.json``, in order: each folder of
    ``CHARZ_LUT_PATH``, the LUTs installed with charz (``charz/data/lut``), the checkout's ``lut/`` (an
    editable install; there the installed folder is a link to it, so it is listed once)."""
    from .resources import checkout_root, package_data

    dirs = [Path(p).expanduser() for p in os.environ.get(LUT_PATH_ENV, "").split(os.pathsep) if p]
    installed, root = package_data("lut"), checkout_root()
    local = root / "lut" if root is not None else None
    if installed is not None and local is not None and local.is_dir() and installed.resolve() == local.resolve():
        installed = None  # the link in a checkout: name the checkout's lut/ itself
    dirs += [d for d in (installed, local) if d is not None and d.is_dir()]
    return dirs


def find_default(pdk: str, name: str) -> Path:
    """The default LUT *name* of PDK *pdk*: ``<folder>/<pdk>/<name>`` (path without suffix) in the first
    folder of :func:`lut_search_path` that holds ``<pdk>/<name>.json``. Use it only where a command has a
    default LUT; a path the user gives is used as given, never searched. Raises a one-line LUTError naming
    the folders searched."""
    dirs = lut_search_path()
    for d in dirs:
        base = d / pdk / name
        if lut_files(base)[0].is_file():
            return base
    searched = ", ".join(str(d) for d in dirs) or "no folder (CHARZ_LUT_PATH is empty and charz has no LUTs installed)"
    raise LUTError(f"default LUT {pdk}/{name} not found on the LUT search path ({searched}): put {pdk}/{name}.json "
                   f"+ .npz in a folder on {LUT_PATH_ENV}, or give the LUT's path")


def json_checksum(meta: dict) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces) of *meta* without its ``json_sha256``:
    formatting does not change it, any value does. An integrity check, not a signature."""
    body = {k: v for k, v in meta.items() if k != "json_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


def seal(path: str | Path) -> tuple[Path, bool]:
    """Write ``json_sha256`` into a LUT's ``.json`` (`charz lut seal`): for a LUT written by an older
    charz, or to accept an edit you made on purpose. Refuses when the ``.npz`` does not match
    ``npz_sha256`` or the LUT does not load. Only the ``.json`` is rewritten; returns (json path,
    whether it changed)."""
    base = lut_base(path)
    jpath, npath = lut_files(base)
    meta = _read_meta(jpath)
    LUT._from_parts(meta, _read_npz(meta, jpath, npath), base)  # the content must make a LUT
    digest = json_checksum(meta)
    if meta.get("json_sha256") == digest:
        return jpath, False
    meta["json_sha256"] = digest
    _atomic_write(jpath, (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode())
    return jpath, True


def _read_meta(jpath: Path) -> dict:
    try:
        meta = json.loads(jpath.read_text())
    except FileNotFoundError as exc:
        raise LUTError(f"LUT metadata {jpath} not found: give the path of a LUT written by `charz characterize`") from exc
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise LUTError(f"LUT metadata {jpath} is corrupt ({type(exc).__name__}): regenerate it with `charz characterize`") from exc
    except OSError as exc:
        raise LUTError(f"LUT metadata {jpath} cannot be read ({exc.strerror or type(exc).__name__}): give the path of a "
                       f"LUT file") from exc
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        raise LUTError(
            f"LUT {jpath} has schema {meta.get('schema') if isinstance(meta, dict) else '?'}, this charz reads "
            f"schema {SCHEMA}: regenerate it with `charz characterize`"
        )
    return meta


def _verify_json(meta: dict, jpath: Path, base: Path) -> None:
    have = meta.get("json_sha256")
    if have is None:
        raise LUTError(f"LUT metadata {jpath} has no json_sha256 checksum (written by an older charz, or the field "
                       f"was removed): regenerate it with `charz characterize`, or if you trust the file run "
                       f"`charz lut seal {base}`")
    if have != json_checksum(meta):
        raise LUTError(f"LUT metadata {jpath} was changed after it was written (json_sha256 does not match its "
                       f"content): restore it (e.g. git checkout) or regenerate it; if the edit is intended run "
                       f"`charz lut seal {base}`")


def _read_npz(meta: dict, jpath: Path, npath: Path) -> bytes:
    try:
        data = npath.read_bytes()
    except FileNotFoundError as exc:
        raise LUTError(f"LUT arrays {npath} not found beside {jpath.name}: regenerate the LUT") from exc
    if hashlib.sha256(data).hexdigest() != meta.get("npz_sha256"):
        raise LUTError(f"LUT arrays {npath} do not match their metadata (sha256): the file is damaged; regenerate it")
    return data


def _atomic_write(target: Path, data: bytes) -> None:
    """Write *data* to a temporary file beside *target*, then rename it over *target*."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the mode a plain open() would
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


_card_warned: set[str] = set()


def _warn_card(lut: "LUT", jpath: Path) -> None:
    """One stderr line (once per file and process) when the LUT's card is not the manifest's card of
    that name. Nothing when the LUT names no card or a PDK the manifest does not list."""
    prov = lut.provenance if isinstance(lut.provenance, dict) else {}
    name, have = prov.get("pdk"), prov.get("card_sha256")
    if not isinstance(name, str) or not have:
        return
    from . import pdk as pdkmod

    try:
        want = pdkmod.describe(name).sha256
    except Exception:  # not in the manifest (synthetic LUTs, a card added elsewhere) or no manifest
        return
    key = str(jpath.resolve())
    if want == have or key in _card_warned:
        return
    _card_warned.add(key)
    print(f"charz: warning: LUT {jpath} was made with a {name} model card of sha256 {str(have)[:12]}..., the "
          f"manifest's {name} card is {want[:12]}...: its numbers may not match this card; regenerate the LUT for it",
          file=sys.stderr)


def _check_shape(meta: dict, base: Path) -> None:
    """The metadata's fields have the types a LUT needs (a sealed file can still be wrong-typed if it was
    sealed after an edit); a LUTError names the first field that is not."""
    def bad(field: str, want: str):
        raise LUTError(f"LUT {base} is corrupt (field {field} must be {want}): regenerate it with `charz characterize`")

    def strs(x) -> bool:
        return isinstance(x, list) and all(isinstance(v, str) for v in x)

    if not isinstance(meta.get("block"), str):
        bad("block", "a string")
    axes = meta.get("axes")
    if not isinstance(axes, list) or not axes:
        bad("axes", "a non-empty list")
    for i, a in enumerate(axes):
        if not (isinstance(a, dict) and isinstance(a.get("name"), str) and isinstance(a.get("unit"), str)
                and isinstance(a.get("discrete"), bool) and isinstance(a.get("values"), list)
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in a["values"])):
            bad(f"axes[{i}]", "{name: string, unit: string, values: numbers, discrete: true/false}")
    for field in ("tables", "samples"):
        if not strs(meta.get(field)):
            bad(field, "a list of names")
    if not strs(meta.get("arrays", [])):
        bad("arrays", "a list of names")
    units = meta.get("units")
    if not (isinstance(units, dict) and all(isinstance(v, str) for v in units.values())):
        bad("units", "a mapping of table names to unit strings")
    for field in ("conditions", "provenance", "fit_quality"):
        if not isinstance(meta.get(field, {}), dict):
            bad(field, "a mapping")
    if not all(isinstance(v, dict) for v in meta.get("fit_quality", {}).values()):
        bad("fit_quality", "a mapping of mappings")


def _num(x, spec: str) -> str:
    """*x* formatted with *spec* when it is a number, else as text (summaries of hand-made LUTs)."""
    if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
        return format(x, spec)
    return str(x)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o)}")
