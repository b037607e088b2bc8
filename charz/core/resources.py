"""Files that ship with charz, found the same way in an installed wheel and in a source checkout.

The package folder ``charz/data/`` holds the default LUTs (``data/lut/<pdk>/<name>.json`` + ``.npz``) and
the PDK manifest (``data/manifest.toml``). In the repository these are symbolic links to the top-level
``lut/`` and ``pdk_models/manifest.toml`` (which stay where they are); building a wheel copies the files
they point at (``[tool.setuptools.package-data]`` in pyproject.toml), so an installed charz carries real
files and no card file (``*.pm``) is ever packaged. An editable install reads the links.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path


def package_data(*parts: str) -> Path | None:
    """``charz/data/<parts>`` as a real file-system path, or None when it is not there (or charz is imported
    from somewhere that is not a file system, such as a zip file)."""
    root = resources.files("charz")
    if not isinstance(root, Path):
        return None
    path = root.joinpath("data", *parts)
    return path if path.exists() else None


def checkout_root() -> Path | None:
    """The source checkout this charz is imported from (an editable install, or ``PYTHONPATH`` at the
    repository): the folder above ``charz/`` (this file is ``charz/core/resources.py``) when it holds charz's ``pyproject.toml``. None for an
    installed copy (the folder above is ``site-packages``)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None


def cache_root() -> Path:
    """charz's cache folder (simulation results, decoded datasets, logs): ``CHARZ_CACHE_DIR`` if set, else
    ``$XDG_CACHE_HOME/charz``, else ``~/.cache/charz``. Nothing is created here."""
    env = os.environ.get("CHARZ_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "charz"
