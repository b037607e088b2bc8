"""The digits data set: scikit-learn's bundled 8x8 handwritten digits (no download, ever).

1797 images of 64 pixels with integer values 0..16, ten classes. A fixed, stratified split
(test fraction 0.2, random_state 0) gives 1437 training and 360 test images; everything in charz that
reports digits accuracy uses this split.
"""

from __future__ import annotations

import functools

import numpy as np

TEST_FRACTION = 0.2
SPLIT_SEED = 0
PIXEL_MAX = 16


@functools.lru_cache(maxsize=1)
def load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test); pixels as float 0..16, labels as int64. Arrays are read-only."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.data.astype(np.float64)
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=y)
    out = tuple(np.ascontiguousarray(a) for a in (xtr, ytr, xte, yte))
    for a in out:
        a.setflags(write=False)
    return out


def quantize_pixels(x: np.ndarray, bits: int = 4) -> np.ndarray:
    """Pixels 0..16 -> unsigned ``bits``-bit integers: round(p * (2**bits - 1) / 16)."""
    top = (1 << bits) - 1
    return np.clip(np.rint(np.asarray(x, dtype=float) * top / PIXEL_MAX), 0, top).astype(np.int64)
