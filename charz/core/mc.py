"""Monte Carlo local mismatch, drawn in Python from an explicit seed.

Each transistor gets ``delvto ~ N(0, A_VT / sqrt(W L))`` (Pelgrom) and, optionally, a current-factor
multiplier ``mulu0 = 1 + N(0, A_beta / sqrt(W L))``. Draws come from NumPy: sample *s* uses the child
``SeedSequence(seed).spawn(n)[s]`` (which is ``SeedSequence(seed, spawn_key=(s,))``, so a sample
needs none of the others), so

- the same seed gives the same samples bit for bit, on any machine and executor;
- sample *s* is the same physical instance at every VDD / temperature / input pattern of a sweep
  (corners and stimuli are measured on the same simulated chips);
- jobs that run different samples in parallel draw from independent streams.

ngspice's own random functions are not used (in ngspice 39 ``sgauss`` repeats its sequence in every
process and ``agauss`` is not reproducible).

``delvto`` shifts BSIM4's model threshold (``@m[vth]``) by exactly the drawn value (tested), so
sigma(Vth) = A_VT/sqrt(WL) holds for the model threshold; a constant-current threshold moves slightly more
(the measurement is in docs/ARCHITECTURE.md, "Key decisions"). For PMOS, ``delvto`` adds to the signed Vth0, so a positive
draw lowers |Vth|; the distribution is symmetric, so statistics are unaffected.

Draws are lazy: a :class:`Draws` keeps the seed, the device names and the per-device sigmas, and makes
the values of samples [a, b) when asked (:meth:`Draws.samples`, :meth:`Draws.rows`); the full
``delvto`` / ``mulu0`` arrays exist only when a caller asks for them (``draws.delvto``,
``draws.arrays()`` for a LUT). A job's samples (:class:`SampleRows`) pickle as the Draws plus a range
and a digest of their values, so a worker that would draw different values (another NumPy) refuses
the job instead of caching wrong results under the client's key.

The sample count is bounded (:func:`mc_limit`: 10,000 per grid point unless ``CHARZ_MC_LIMIT`` or the
CLI's ``--mc-limit`` raises it), checked before anything is allocated.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import hashlib
import math

import numpy as np

from .errors import ParameterError
from .validate import setting

MC_LIMIT = 10_000
"""Default bound on Monte Carlo samples per grid point (``CHARZ_MC_LIMIT`` / ``--mc-limit`` raise it)."""
MC_LIMIT_ENV = "CHARZ_MC_LIMIT"
_LIMIT: int | None = None


def set_limit(n: int | None) -> None:
    """Override the sample-count bound in this process (the CLI's ``--mc-limit``); None = use
    ``CHARZ_MC_LIMIT`` if set, else :data:`MC_LIMIT`."""
    global _LIMIT
    _LIMIT = None if n is None else _check_limit(n, "--mc-limit")


def _check_limit(value, what: str) -> int:
    try:
        v = int(str(value).strip()) if isinstance(value, str) else value
        ok = not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= 1
    except ValueError:
        ok = False
    if not ok:
        raise ParameterError(f"{what} = {value!r}: the Monte Carlo sample limit must be an integer >= 1")
    return int(v)


def mc_limit() -> int:
    """The largest Monte Carlo sample count per grid point accepted: ``--mc-limit``, else
    ``CHARZ_MC_LIMIT``, else :data:`MC_LIMIT`."""
    limit = setting(_LIMIT, MC_LIMIT_ENV, _check_limit)
    return MC_LIMIT if limit is None else limit


def check_limit(n: int, what: str | None = None) -> int:
    """*n* if it is within :func:`mc_limit`, else a one-line ParameterError saying how to raise the limit
    (*what*: how the message names the count, default ``mc = N``)."""
    limit = mc_limit()
    if n > limit:
        raise ParameterError(
            f"{what or f'mc = {n}'}: more than {limit} Monte Carlo samples per grid point; use fewer, or raise "
            f"the limit with --mc-limit N (charz characterize) or {MC_LIMIT_ENV}=N"
        )
    return n


@dataclasses.dataclass(frozen=True)
class Mismatch:
    """Local-mismatch model. Coefficients per the PDK manifest (assumptions, see pdk_models/)."""

    avt_mv_um: float
    """Pelgrom threshold coefficient A_VT in mV*um."""
    abeta_pct_um: float = 0.0
    """Current-factor coefficient A_beta in %*um; 0 disables mulu0 mismatch."""

    def __post_init__(self):
        if self.avt_mv_um < 0 or self.abeta_pct_um < 0:
            raise ParameterError("mismatch coefficients must be >= 0")

    def sigma_vth(self, w: float, l: float) -> float:
        """sigma(Vth) in volts for a W x L device (metres)."""
        area_um2 = (w * 1e6) * (l * 1e6)
        return self.avt_mv_um * 1e-3 / math.sqrt(area_um2)

    def sigma_beta(self, w: float, l: float) -> float:
        """Relative sigma of the current factor (a fraction, e.g. 0.01 = 1 %) for a W x L device (metres):
        A_beta / sqrt(W L)."""
        area_um2 = (w * 1e6) * (l * 1e6)
        return self.abeta_pct_um * 1e-2 / math.sqrt(area_um2)


@dataclasses.dataclass(frozen=True)
class Draws:
    """Per-sample, per-device mismatch values, made on demand from the seed (stored with results for
    reproducibility through :meth:`arrays`).

    The random stream of sample *s* has one normal per *drawn* device (``sigma_vth``, in the order
    :func:`draw` was given the devices) for ``delvto`` and one more per drawn device for ``mulu0``;
    device ``devices[j]`` takes drawn column ``columns[j]`` (all of them in order when ``columns`` is
    None), so one physical cell's draws can be laid out on another deck's instances (:meth:`take`).
    """

    seed: int
    devices: tuple[str, ...]
    n: int
    sigma_vth: tuple[float, ...]
    """sigma(Vth) [V] of every drawn device."""
    sigma_beta: tuple[float, ...] | None = None
    """sigma of the current factor of every drawn device; None: no ``mulu0`` mismatch."""
    columns: tuple[int, ...] | None = None

    def __post_init__(self):
        cols = self.columns if self.columns is not None else range(len(self.devices))
        if len(cols) != len(self.devices) or any(not 0 <= c < len(self.sigma_vth) for c in cols):
            raise ParameterError("Draws: every device needs a drawn column")
        if self.sigma_beta is not None and len(self.sigma_beta) != len(self.sigma_vth):
            raise ParameterError("Draws: sigma_beta needs one value per drawn device")
        if self.n < 1:
            raise ParameterError(f"Monte Carlo needs at least 1 sample, got {self.n}")

    def rows(self, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """``(delvto, mulu0)`` of samples [start, stop): arrays (stop - start, devices); mulu0 None when
        current-factor mismatch is not drawn."""
        start, stop = self._range(start, stop)
        sig_v = np.asarray(self.sigma_vth, dtype=float)
        sig_b = np.asarray(self.sigma_beta, dtype=float) if self.sigma_beta is not None else None
        m = len(self.sigma_vth)
        dv = np.empty((stop - start, m))
        mu = np.empty((stop - start, m)) if sig_b is not None else None
        for r, s in enumerate(range(start, stop)):
            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(s,)))
            z = rng.standard_normal((2, m))
            dv[r] = z[0] * sig_v
            if mu is not None:
                mu[r] = np.maximum(1.0 + z[1] * sig_b, 0.05)
        if self.columns is not None:
            cols = list(self.columns)
            dv = dv[:, cols]
            mu = mu[:, cols] if mu is not None else None
        return dv, mu

    @property
    def delvto(self) -> np.ndarray:
        """Every sample's ``delvto`` (n, devices) [V], made now (n x devices floats)."""
        return self.rows()[0]

    @property
    def mulu0(self) -> np.ndarray | None:
        """Every sample's ``mulu0`` (n, devices), or None without current-factor mismatch."""
        return self.rows()[1] if self.sigma_beta is not None else None

    def arrays(self) -> dict[str, np.ndarray]:
        """The draws as LUT arrays (``mc_delvto``, ``mc_devices``, ``mc_mulu0`` when drawn)."""
        dv, mu = self.rows()
        out = {"mc_delvto": dv, "mc_devices": np.asarray(self.devices)}
        if mu is not None:
            out["mc_mulu0"] = mu
        return out

    def samples(self, start: int = 0, stop: int | None = None) -> "SampleRows":
        """Alter triples (instance, parameter, value) for samples [start, stop), as a lazy sequence
        (one tuple of triples per sample, made when iterated)."""
        start, stop = self._range(start, stop)
        return SampleRows(self, start, stop)

    def take(self, devices: tuple[str, ...], columns) -> "Draws":
        """The same samples laid out on other instances: ``devices[j]`` gets this Draws' device
        ``columns[j]`` (e.g. one cell's draws on a testbench's instances)."""
        cols = [int(c) for c in columns]
        if any(not 0 <= c < len(self.devices) for c in cols):
            raise ParameterError("Draws.take: a column is out of range")
        base = self.columns if self.columns is not None else range(len(self.devices))
        return dataclasses.replace(self, devices=tuple(devices), columns=tuple(base[c] for c in cols))

    def _range(self, start: int, stop: int | None) -> tuple[int, int]:
        stop = self.n if stop is None else stop
        if not 0 <= start <= stop <= self.n:
            raise ParameterError(f"samples [{start}, {stop}) are outside the {self.n} drawn")
        return int(start), int(stop)


class SampleRows(collections.abc.Sequence):
    """Samples [start, stop) of a :class:`Draws` as alter triples, made when read. Pickles small (the
    Draws, the range and a digest of the values); the unpickled copy checks that it makes the same
    values before handing any out."""

    __slots__ = ("draws", "start", "stop", "_digest")

    def __init__(self, draws: Draws, start: int, stop: int, digest: str | None = None) -> None:
        self.draws, self.start, self.stop, self._digest = draws, start, stop, digest

    def _block(self) -> tuple[np.ndarray, np.ndarray | None]:
        dv, mu = self.draws.rows(self.start, self.stop)
        if self._digest is not None and _digest(dv, mu) != self._digest:
            raise RuntimeError(
                "Monte Carlo draws made on this worker differ from the client's (another NumPy version?): "
                "use the same NumPy on every machine"
            )
        return dv, mu

    def _triples(self, dv: np.ndarray, mu: np.ndarray | None, r: int) -> tuple[tuple[str, str, float], ...]:
        devs = self.draws.devices
        row = [(d, "delvto", float(dv[r, j])) for j, d in enumerate(devs)]
        if mu is not None:
            row += [(d, "mulu0", float(mu[r, j])) for j, d in enumerate(devs)]
        return tuple(row)

    def __len__(self) -> int:
        return self.stop - self.start

    def __iter__(self):
        dv, mu = self._block()
        for r in range(len(self)):
            yield self._triples(dv, mu, r)

    def __getitem__(self, i):
        if isinstance(i, slice) or self._digest is not None:
            return tuple(self)[i]
        n = len(self)
        i = i + n if i < 0 else i
        if not 0 <= i < n:
            raise IndexError("sample index out of range")
        return self._triples(*self.draws.rows(self.start + i, self.start + i + 1), 0)

    def __eq__(self, other) -> bool:
        if isinstance(other, SampleRows):
            same = (self.draws, self.start, self.stop) == (other.draws, other.start, other.stop)
            return same or tuple(self) == tuple(other)
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return (f"SampleRows(seed={self.draws.seed}, samples {self.start}..{self.stop - 1}, "
                f"{len(self.draws.devices)} devices)")

    def __reduce__(self):
        return SampleRows, (self.draws, self.start, self.stop, _digest(*self.draws.rows(self.start, self.stop)))


def _digest(dv: np.ndarray, mu: np.ndarray | None) -> str:
    h = hashlib.sha256(np.ascontiguousarray(dv, dtype="<f8").tobytes())
    if mu is not None:
        h.update(np.ascontiguousarray(mu, dtype="<f8").tobytes())
    return h.hexdigest()[:16]


def draw(model: Mismatch, devices: tuple, n: int, seed: int) -> Draws:
    """*n* mismatch samples for *devices* (transistors with ``name``, ``w``, ``l`` in metres, such as
    :class:`charz.netlist.spice.Device`) from *seed* (see module docstring). Nothing is drawn here:
    the returned :class:`Draws` makes the values when asked. *n* above :func:`mc_limit` is refused."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError(f"Monte Carlo needs an integer of at least 1 sample, got {n!r}")
    check_limit(int(n))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    sig_v = tuple(float(model.sigma_vth(d.w, d.l)) for d in devices)
    sig_b = tuple(float(model.sigma_beta(d.w, d.l)) for d in devices) if model.abeta_pct_um > 0 else None
    return Draws(int(seed), tuple(d.name for d in devices), int(n), sig_v, sig_b)


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    """Split n samples into [start, stop) ranges of at most *size* (one ngspice session each)."""
    size = max(1, int(size))
    return [(a, min(a + size, n)) for a in range(0, n, size)]
