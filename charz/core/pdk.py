"""PTM model-card registry and lookup path.

The manifest ``pdk_models/manifest.toml`` lists the supported cards with their sha256, nominal VDD,
drawn Lmin, model names and mismatch coefficients; it ships with the package as ``charz/data/manifest.toml``
(:mod:`charz.core.resources`), so an installed charz reads its own copy. Card files are never part of the repository:
they are found on the search path ``CHARZ_PDK_PATH`` (colon-separated), then ``pdk_models/`` in the
project, then ``../shared/pdk_models`` beside the checkout. Every card is sha256-checked before use.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import tomllib
from pathlib import Path

from .errors import ParameterError, PDKError
from .resources import package_data

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The folder above the package (a checkout: it holds pdk_models/; installed: site-packages)."""


def _manifest_path() -> Path:
    """The manifest shipped with the package (``charz/data/manifest.toml``: a copy in a wheel, a link to
    ``pdk_models/manifest.toml`` in a checkout), else the checkout's ``pdk_models/manifest.toml``."""
    return package_data("manifest.toml") or PROJECT_ROOT / "pdk_models" / "manifest.toml"


MANIFEST = _manifest_path()


@dataclasses.dataclass(frozen=True)
class PDK:
    """One PTM card as the manifest describes it, with the card's resolved path."""

    name: str
    file: str
    sha256: str
    node_nm: int
    flavour: str
    vdd_nom: float
    vdd_source: str
    toxe_nm: float
    avt_mv_um: float
    """Pelgrom A_VT in mV*um (an assumption; see the manifest). May be overridden per run."""
    abeta_pct_um: float
    nmos: str
    pmos: str
    path: Path | None = None
    avt_overridden: bool = False

    @property
    def lmin(self) -> float:
        """Drawn minimum channel length in metres (= the node)."""
        return self.node_nm * 1e-9

    def with_avt(self, avt_mv_um: float | None) -> "PDK":
        """This PDK with a user-chosen A_VT (mV*um); None keeps the manifest value."""
        if avt_mv_um is None:
            return self
        if not (0.0 <= avt_mv_um <= 50.0):
            raise ParameterError(f"A_VT = {avt_mv_um} mV*um is out of range: give a value between 0 and 50 mV*um")
        return dataclasses.replace(self, avt_mv_um=float(avt_mv_um), avt_overridden=True)

    def check_vdd(self, vdd: float) -> float:
        """Validate a supply voltage against this node (0 < VDD <= 1.5 x nominal)."""
        vdd = float(vdd)
        if not (0.0 < vdd <= 1.5 * self.vdd_nom + 1e-12):
            raise ParameterError(
                f"VDD = {vdd:g} V is outside (0, {1.5 * self.vdd_nom:g}] V for {self.name} "
                f"(nominal {self.vdd_nom:g} V, at most 1.5x nominal): choose a supply in that range"
            )
        return vdd

    def provenance(self) -> dict:
        """The node as LUT provenance: name, card file and sha256, node (nm), nominal VDD (V), A_VT (mV*um)
        and where it came from (manifest assumption or user override), A_beta (%*um)."""
        return {
            "pdk": self.name,
            "card_file": self.file,
            "card_sha256": self.sha256,
            "node_nm": self.node_nm,
            "vdd_nom": self.vdd_nom,
            "avt_mv_um": self.avt_mv_um,
            "avt_source": "user override" if self.avt_overridden else "manifest assumption (1.5 mV*um/nm x toxe)",
            "abeta_pct_um": self.abeta_pct_um,
        }


def search_path() -> list[Path]:
    """Folders searched for card files, in order."""
    dirs: list[Path] = []
    env = os.environ.get("CHARZ_PDK_PATH", "")
    dirs += [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    dirs.append(PROJECT_ROOT / "pdk_models")
    dirs.append(PROJECT_ROOT.parent / "shared" / "pdk_models")
    return dirs


@functools.lru_cache(maxsize=1)
def _manifest() -> dict:
    try:
        data = tomllib.loads(MANIFEST.read_text())
    except FileNotFoundError as exc:
        raise PDKError(f"PDK manifest {MANIFEST} is missing: restore pdk_models/manifest.toml from git (in a "
                       f"checkout) or reinstall charz") from exc
    return data["pdk"]


def names() -> list[str]:
    """Every PDK name of the manifest, ordered by node (nm), then name."""
    return sorted(_manifest(), key=lambda n: (_manifest()[n]["node_nm"], n))


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read now (use for a copy that must be what was verified)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@functools.lru_cache(maxsize=64)
def sha256_file(path: Path) -> str:
    """sha256 of a card file, remembered per path for this process."""
    return file_sha256(path)


def describe(name: str) -> PDK:
    """The manifest entry for *name*, without looking for the card file."""
    entries = _manifest()
    if name not in entries:
        raise PDKError(f"unknown PDK '{name}': choose one of {', '.join(names())} (see `charz pdk list`)")
    fields = {f.name for f in dataclasses.fields(PDK)}
    return PDK(name=name, **{k: v for k, v in entries[name].items() if k in fields})


def card_copies(pdk: PDK) -> list[tuple[Path, str | None]]:
    """Every copy of *pdk*'s card file on the search path, in order, each file once: (path, None) when its
    sha256 is the manifest's, else (path, why it is refused)."""
    out: list[tuple[Path, str | None]] = []
    seen: set[Path] = set()
    for d in search_path():
        cand = d / pdk.file
        try:
            if not cand.is_file() or cand.resolve() in seen:
                continue
            seen.add(cand.resolve())
            digest = sha256_file(cand.resolve())
        except OSError as exc:
            out.append((cand, f"cannot be read: {exc.strerror or exc}"))
            continue
        ok = digest == pdk.sha256
        out.append((cand.resolve() if ok else cand,
                    None if ok else f"sha256 {digest[:12]}... differs from the manifest's {pdk.sha256[:12]}..."))
    return out


def find_card(pdk: PDK) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The first verified copy of the card on the search path (or None), and every refused copy with why."""
    copies = card_copies(pdk)
    good = next((p for p, why in copies if why is None), None)
    return good, [(p, why) for p, why in copies if why is not None]


def get(name: str, avt_mv_um: float | None = None) -> PDK:
    """The PDK *name* with its verified card path; raises PDKError naming the paths searched."""
    pdk = describe(name)
    path, rejected = find_card(pdk)
    if path is None:
        searched = ", ".join(str(d) for d in search_path())
        extra = "".join(f"; rejected {p} ({why})" for p, why in rejected)
        raise PDKError(
            f"model card {pdk.file} for {name} not found with the right sha256 in: {searched}{extra}. "
            f"Put a verified copy in one of these folders or point CHARZ_PDK_PATH at it"
        )
    if avt_mv_um is None and os.environ.get("CHARZ_AVT"):
        try:
            avt_mv_um = float(os.environ["CHARZ_AVT"])
        except ValueError as exc:
            raise ParameterError(f"CHARZ_AVT={os.environ['CHARZ_AVT']!r} is not a number (mV*um)") from exc
    return dataclasses.replace(pdk, path=path).with_avt(avt_mv_um)


def for_params(params, cls: type, pdk: PDK | None = None) -> PDK:
    """The PDK a generator builds *params* (an instance of *cls*) with: *pdk* when given, else the card named
    ``params.pdk``; a one-line ParameterError when *params* is not a *cls*, or the PDK is another one or has no
    card (a generator needs its path)."""
    if not isinstance(params, cls):
        raise ParameterError(f"params must be {cls.__name__}, got {type(params).__name__}")
    p = pdk if pdk is not None else get(params.pdk)
    if p.name != params.pdk or p.path is None:
        raise ParameterError(f"pdk {p.name!r} (card path {p.path}) does not match params.pdk {params.pdk!r}")
    return p


def reference(name: str) -> dict:
    """Reference figures from ../shared/pdk_models/SOURCES.md recorded in the manifest (ref_* keys)."""
    describe(name)
    return {k[4:]: v for k, v in _manifest()[name].items() if k.startswith("ref_")}
