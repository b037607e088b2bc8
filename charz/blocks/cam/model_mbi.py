"""Memorization-based inference (MBI) on MNIST looked up in the SRAM CAM model (:class:`CamModel`).

The published idea: a recurrent attention model looks at small glimpses of the image; instead of computing
a network, inference stores key-value pairs (glimpse location, patch vector -> class evidence) in tables and
looks the closest key up with an in-memory search circuit; clustering and Bayesian optimization reduce the
lookups (published: about 2.7x the energy efficiency of an MLP and about 83x that of a ResNet-20, both on
CiM, on MNIST). This module is a stated simplification of it, NumPy only:

1. **Glimpses.** A candidate glimpse is an 8 x 8 patch at a location on a grid of stride ``stride`` (4:
   6 x 6 = 36 candidates on 28 x 28). A patch is binarized (pixel > ``threshold``) and OR-pooled 2 x 2 to
   4 x 4 = 16 bits, row-major: the key (W = 16, the ``cam_sram16`` LUT's word length) (:func:`glimpse_keys`).
2. **Tables.** Per candidate location, the training keys are clustered to at most R rows by *k-modes*
   (k-means in Hamming space: assign each key to the nearest centre, the new centre is the bitwise majority
   of its keys, weighted by how often each distinct key occurs; started from the R most frequent distinct
   keys, ``iters`` rounds; a centre left empty or duplicated is replaced by the most frequent distinct key
   not yet in the table) (:func:`cluster_keys`). A row's value is the smoothed log class-probability of
   the training glimpses it is nearest to, ``log((n_rc + alpha) / (n_r + 10 alpha))``, quantized to
   ``value_bits`` signed bits (:func:`row_values`).
3. **Attention, simplified.** The paper learns a recurrent attention policy (where to look next depends on
   what was seen). Here the G locations are a *fixed* sequence chosen once on the training data, greedily:
   each step adds the candidate whose table's evidence, added to the evidence of the locations already
   chosen, lowers the training cross-entropy of softmax(summed evidence) most -- the location with the
   most class information given the ones before it (:func:`fit_mbi`). No Bayesian optimization of the
   number of lookups: G and R are given.
4. **Inference.** Per glimpse one nearest-key search of its query key among the location's R rows through
   :meth:`CamModel.search` -- on a drawn chip (every row its own ``V_ML(m)`` curve) or on the nominal chip
   (the ideal search: the exact Hamming-nearest row) -- the winners' value vectors summed over the G
   glimpses, argmax (:func:`infer`), vectorized over images.
5. **Energy per inference** (:func:`infer`): the searches, from the LUT (each row's energy per search at
   its own distance, summed over the R rows and the G searches; the LUT's shares of the search-line and
   replica energy assume its own row count, 64); the value reads, ASSUMED :data:`VALUE_READ_J_PER_BIT`
   per bit read (10 classes x ``value_bits`` per glimpse); the digital accumulation, ASSUMED
   :data:`ADD_J` per 8-bit add (10 (G - 1) adds and 9 compares for the argmax, each counted as one add).

Each location is its own CAM bank of R rows (a search drives only that bank's search lines).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...core.errors import ParameterError
from .model import CamChip, CamModel

PATCH = 8
"""Glimpse side in pixels."""
POOL = 2
"""OR-pooling factor: an 8 x 8 patch becomes 4 x 4 = 16 bits."""
KEY_BITS = (PATCH // POOL) ** 2
"""Bits per key (16)."""
CLASSES = 10
ADD_J = 30e-15
"""ASSUMED energy of one 8-bit add [J]: 0.03 pJ, Horowitz, ISSCC 2014, 45 nm (not characterized in charz)."""
VALUE_READ_J_PER_BIT = 10e-12 / 64
"""ASSUMED energy per bit of a value read [J]: an 8 KB SRAM's 64-bit read, 10 pJ, Horowitz ISSCC 2014, 45 nm
(pessimistic for a table of R x 10 bytes; not characterized in charz)."""
_POP = np.array([bin(i).count("1") for i in range(1 << KEY_BITS)], dtype=np.int64)
_WEIGHTS = (1 << np.arange(KEY_BITS - 1, -1, -1)).astype(np.int64)


def candidate_locations(stride: int = 4, size: int = 28) -> np.ndarray:
    """(L, 2) top-left (row, column) of every 8 x 8 glimpse on a grid of *stride* pixels inside *size* x *size*."""
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or not 1 <= stride <= size - PATCH:
        raise ParameterError(f"stride = {stride!r}: give an integer 1 to {size - PATCH}")
    pos = np.arange(0, size - PATCH + 1, stride)
    return np.array([(r, c) for r in pos for c in pos], dtype=np.int64)


def _images(images) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1] < PATCH or x.shape[2] < PATCH:
        raise ParameterError(f"images must be (N, H, W) or (N, H, W, 1) gray images, got shape {np.shape(images)}")
    return x


def glimpse_keys(images, locations, threshold: float = 127) -> np.ndarray:
    """(N, G, 16) keys of 0 / 1 (uint8): each glimpse's 8 x 8 patch at *locations* (G, 2) of *images* (N, H, W
    [, 1]), binarized (pixel > *threshold*) and OR-pooled 2 x 2, row-major."""
    x = _images(images) > threshold
    loc = np.asarray(locations, dtype=np.int64).reshape(-1, 2)
    out = np.empty((x.shape[0], loc.shape[0], KEY_BITS), dtype=np.uint8)
    s = PATCH // POOL
    for g, (r, c) in enumerate(loc):
        p = x[:, r:r + PATCH, c:c + PATCH]
        if p.shape[1:] != (PATCH, PATCH):
            raise ParameterError(f"glimpse at {(int(r), int(c))} leaves the {x.shape[1]} x {x.shape[2]} image")
        out[:, g] = p.reshape(-1, s, POOL, s, POOL).any(axis=(2, 4)).reshape(-1, KEY_BITS)
    return out


def pack(keys) -> np.ndarray:
    """Keys (..., 16) of 0 / 1 as integers (first bit most significant)."""
    return np.asarray(keys).astype(np.int64) @ _WEIGHTS


def unpack(codes) -> np.ndarray:
    """Integers as keys (..., 16) of 0 / 1 (uint8)."""
    c = np.asarray(codes, dtype=np.int64)
    return ((c[..., None] & _WEIGHTS) > 0).astype(np.uint8)


def hamming(a_codes, b_codes) -> np.ndarray:
    """(A, B) Hamming distances between packed keys *a_codes* (A,) and *b_codes* (B,)."""
    return _POP[np.asarray(a_codes)[:, None] ^ np.asarray(b_codes)[None, :]]


def cluster_keys(keys, rows: int, iters: int = 10) -> np.ndarray:
    """At most *rows* packed centres for *keys* (N, 16) of 0 / 1 by count-weighted k-modes (module doc, step 2);
    exactly *rows* when the keys hold that many distinct patterns."""
    rows = _posint(rows, "rows", 1 << KEY_BITS)
    codes, counts = np.unique(pack(keys), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    codes, counts = codes[order], counts[order]  # most frequent first
    centres = codes[:rows].copy()
    if codes.size <= rows:
        return centres
    bits = unpack(codes).astype(np.float64)
    for _ in range(iters):
        near = np.argmin(hamming(codes, centres), axis=1)
        w = np.zeros((centres.size, KEY_BITS))
        np.add.at(w, near, bits * counts[:, None])
        tot = np.bincount(near, weights=counts, minlength=centres.size)
        new = np.where(tot > 0, pack((w > tot[:, None] / 2).astype(np.int64)), -1)
        new = _fill(new, codes)
        if np.array_equal(new, centres):
            break
        centres = new
    return centres


def _fill(centres: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Replace empty (-1) and repeated centres by the most frequent codes not yet used."""
    out, seen = [], set()
    for c in centres.tolist():
        out.append(c if c >= 0 and c not in seen else None)
        if c >= 0:
            seen.add(c)
    spare = (c for c in codes.tolist() if c not in seen)
    return np.array([c if c is not None else next(spare) for c in out], dtype=np.int64)


def row_values(centres, keys, labels, alpha: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(values (R, 10) smoothed log class-probabilities of the training glimpses nearest to each row, assign
    (N,) the row each key is nearest to; ties: the lower row)."""
    near = np.argmin(hamming(pack(keys), centres), axis=1)
    n = np.zeros((len(centres), CLASSES))
    np.add.at(n, (near, np.asarray(labels, dtype=np.int64)), 1.0)
    return np.log((n + alpha) / (n.sum(axis=1, keepdims=True) + CLASSES * alpha)), near


def quantize(values: np.ndarray, bits: int) -> tuple[np.ndarray, float]:
    """(integer values in [-(2^(bits-1) - 1), 0], scale) with ``values ~ q * scale``; values are <= 0."""
    top = 2 ** (bits - 1) - 1
    scale = max(float(-values.min()), 1e-12) / top
    return np.rint(values / scale).astype(np.int64), scale


@dataclasses.dataclass(frozen=True)
class MbiTables:
    """The fitted MBI: G glimpse locations in the greedy order, each with its table of R rows."""

    locations: np.ndarray
    """(G, 2) top-left (row, column) of each glimpse, in the order chosen."""
    keys: np.ndarray
    """(G, R, 16) stored keys of 0 / 1."""
    values: np.ndarray
    """(G, R, 10) quantized value vectors (integers)."""
    scale: float
    """values x scale ~ log class-probability."""
    threshold: float
    """Binarization threshold of the pixels (pixel > threshold is 1)."""
    value_bits: int
    """Signed bits of a stored value."""
    train_accuracy: list
    """training accuracy (exact search) after each greedy step."""

    @property
    def glimpses(self) -> int:
        """Glimpses per image G."""
        return int(self.locations.shape[0])

    @property
    def rows(self) -> int:
        """Rows per table R."""
        return int(self.keys.shape[1])

    def first(self, g: int) -> "MbiTables":
        """The first *g* glimpses (the greedy order is a prefix order)."""
        g = _posint(g, "glimpses", self.glimpses)
        return dataclasses.replace(self, locations=self.locations[:g], keys=self.keys[:g], values=self.values[:g],
                                   train_accuracy=self.train_accuracy[:g])


def fit_mbi(images, labels, glimpses: int = 8, rows: int = 64, stride: int = 4, threshold: float = 127,
            alpha: float = 1.0, value_bits: int = 8, iters: int = 10) -> MbiTables:
    """Fit the tables on training *images* / *labels*: every candidate location's table (k-modes, at most
    *rows* rows), then the greedy choice of *glimpses* locations (module doc, steps 1-3). Rows are padded to
    exactly *rows* by repeating a table's last row where a location has fewer distinct keys (a repeated row
    never wins over its first copy)."""
    y = np.asarray(labels, dtype=np.int64)
    cand = candidate_locations(stride, _images(images).shape[1])
    glimpses = _posint(glimpses, "glimpses", len(cand))
    rows = _posint(rows, "rows", 1 << KEY_BITS)
    value_bits = _posint(value_bits, "value_bits", 16)
    if value_bits < 2:
        raise ParameterError("value_bits must be >= 2")
    if y.shape != (_images(images).shape[0],) or y.size == 0 or y.min() < 0 or y.max() >= CLASSES:
        raise ParameterError(f"labels must be ({_images(images).shape[0]},) class indices 0..9")
    keys = glimpse_keys(images, cand, threshold)
    tables, evidence = [], []
    for i in range(len(cand)):
        c = cluster_keys(keys[:, i], rows, iters)
        v, near = row_values(c, keys[:, i], y, alpha)
        tables.append((c, v))
        evidence.append(v[near])
    ev = np.stack(evidence, axis=1)  # (N, L, 10)
    chosen, acc, total = [], [], np.zeros((len(y), CLASSES))
    for _ in range(glimpses):
        best, best_loss = -1, np.inf
        for i in range(len(cand)):
            if i in chosen:
                continue
            s = total + ev[:, i]
            s = s - s.max(axis=1, keepdims=True)
            loss = float(np.mean(np.log(np.exp(s).sum(axis=1)) - s[np.arange(len(y)), y]))
            if loss < best_loss:
                best, best_loss = i, loss
        chosen.append(best)
        total = total + ev[:, best]
        acc.append(float(np.mean(total.argmax(axis=1) == y)))
    vals = np.stack([_pad(tables[i][1], rows) for i in chosen])
    q, scale = quantize(vals, value_bits)
    ks = np.stack([unpack(_pad(tables[i][0], rows)) for i in chosen])
    return MbiTables(cand[chosen], ks, q, scale, float(threshold), value_bits, acc)


def _pad(a: np.ndarray, rows: int) -> np.ndarray:
    if len(a) >= rows:
        return a[:rows]
    return np.concatenate([a, np.repeat(a[-1:], rows - len(a), axis=0)])


def draw_chip(model: CamModel, tables: MbiTables, rng: np.random.Generator) -> list[CamChip]:
    """One chip: a bank of R drawn rows per glimpse location (``CamModel.draw``)."""
    return [model.draw(tables.rows, rng) for _ in range(tables.glimpses)]


def infer(model: CamModel, tables: MbiTables, images, chip: list[CamChip] | None = None,
          keys: np.ndarray | None = None) -> dict:
    """Classify *images* with *tables*: per glimpse a search on *chip* (a list of G banks from
    :func:`draw_chip`; None = the nominal chip: the exact Hamming-nearest row, ties to the lower row), the
    winners' values summed, argmax. *keys*: the (N, G, 16) query keys if already extracted. Returns
    ``pred`` (N,), ``scores`` (N, 10), ``winners`` (N, G), ``nearest_ok`` (fraction of searches whose
    winner is a nearest row) and the energy per inference [J]: ``energy_J`` with its split
    ``search_J`` (LUT), ``value_read_J``, ``accumulate_J`` (ASSUMED, module doc) and ``lookups``."""
    if model.n_bits != KEY_BITS:
        raise ParameterError(f"the MBI keys have {KEY_BITS} bits: a cam_sram LUT with W = {KEY_BITS} is needed, "
                             f"got W = {model.n_bits}")
    q = glimpse_keys(images, tables.locations, tables.threshold) if keys is None else keys
    if chip is not None and len(chip) != tables.glimpses:
        raise ParameterError(f"the chip needs {tables.glimpses} banks, got {len(chip)}")
    n, G = q.shape[0], tables.glimpses
    scores = np.zeros((n, CLASSES), dtype=np.int64)
    winners = np.empty((n, G), dtype=np.int64)
    search = np.zeros(n)
    ok = 0
    for g in range(G):
        res = model.search(tables.keys[g], q[:, g], None if chip is None else chip[g])
        winners[:, g] = res.winner
        scores += tables.values[g][res.winner]
        search += res.energy
        ok += int(res.correct.sum())
    adds = CLASSES * (G - 1) + (CLASSES - 1)
    e_search = float(search.mean()) if n else 0.0
    e_read = G * CLASSES * tables.value_bits * VALUE_READ_J_PER_BIT
    e_add = adds * ADD_J
    return {"pred": scores.argmax(axis=1), "scores": scores, "winners": winners,
            "nearest_ok": ok / max(n * G, 1), "lookups": G, "row_compares": G * tables.rows, "adds": adds,
            "search_J": e_search, "value_read_J": e_read, "accumulate_J": e_add,
            "energy_J": e_search + e_read + e_add}


def evaluate_mbi(model: CamModel, tables: MbiTables, images, labels, chips: int = 5, seed: int = 0) -> dict:
    """Accuracy of the ideal search and of *chips* drawn chips (chip c from ``default_rng([seed, c])``), the
    energy split per inference (ideal search's distances; the chips' energies are in ``chip_energy_J``)."""
    chips = _posint(chips, "chips", 10_000)
    y = np.asarray(labels, dtype=np.int64)
    q = glimpse_keys(images, tables.locations, tables.threshold)
    ideal = infer(model, tables, images, None, q)
    acc = []
    energy = []
    nearest = []
    for c in range(chips):
        r = infer(model, tables, images, draw_chip(model, tables, np.random.default_rng([seed, c])), q)
        acc.append(float(np.mean(r["pred"] == y)))
        energy.append(r["energy_J"])
        nearest.append(r["nearest_ok"])
    keep = ("lookups", "row_compares", "adds", "search_J", "value_read_J", "accumulate_J", "energy_J")
    return {"glimpses": tables.glimpses, "rows": tables.rows, "images": int(len(y)),
            "ideal_accuracy": float(np.mean(ideal["pred"] == y)), "chip_accuracy": acc,
            "chip_accuracy_mean": float(np.mean(acc)), "chip_accuracy_std": float(np.std(acc)),
            "chip_nearest_ok": nearest, "chip_energy_J": energy, "train_accuracy": tables.train_accuracy[-1],
            "locations": tables.locations.tolist(), **{k: ideal[k] for k in keep}}


def _posint(v, name: str, top: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= top:
        raise ParameterError(f"{name} = {v!r}: give an integer 1 to {top}")
    return int(v)


__all__ = ["fit_mbi", "infer", "evaluate_mbi", "draw_chip", "glimpse_keys", "cluster_keys", "row_values",
           "candidate_locations", "MbiTables", "ADD_J", "VALUE_READ_J_PER_BIT", "KEY_BITS"]
