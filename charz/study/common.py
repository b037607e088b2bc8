"""What every ``charz study METHOD`` shares: its common options, the model / data / output folder checks, and
what the result says about them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..core.errors import CharzError, ParameterError

DEFAULT_IMAGES = 1000
DEFAULT_CHIPS = 4


@dataclasses.dataclass
class Context:
    """A checked study run: the model file, the test images, the training images the method may use, the
    main path's backend options, the output folder (created)."""

    model: Path
    test: object
    fit: object
    options: dict
    out: Path
    calib_count: int
    dataset: str


def int_list(text: str, flag: str) -> list[int]:
    """Comma-separated integers of option *flag* (at least one), or a one-line ParameterError."""
    try:
        v = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ParameterError(f"{flag} {text!r}: give comma-separated integers") from None
    if not v:
        raise ParameterError(f"{flag} {text!r}: give at least one integer")
    return v


def float_list(text: str, flag: str, lo: float, hi: float, lo_open: bool = False) -> list[float]:
    """Comma-separated numbers of option *flag* (at least one), each in [lo, hi] ((lo, hi] with *lo_open*),
    sorted without repeats; a one-line ParameterError otherwise."""
    import math

    try:
        v = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ParameterError(f"{flag} {text!r}: give comma-separated numbers") from None
    ok = all(math.isfinite(x) and (x > lo if lo_open else x >= lo) and x <= hi for x in v)
    if not v or not ok:
        raise ParameterError(f"{flag} {text!r}: give numbers in {'(' if lo_open else '['}{lo:g}, {hi:g}]")
    return sorted(set(v))


DEFAULT_LR = 1e-3


def add_lr(p) -> None:
    """--lr of a study that trains (Adam)."""
    p.add_argument("--lr", type=float, default=DEFAULT_LR,
                   help=f"Adam learning rate of the training (default {DEFAULT_LR:g}; a model without batch norms "
                        f"such as the shipped ResNet-20, whose batch norms are folded, diverges there: give ~3e-5)")


def check_lr(lr: float) -> float:
    """*lr* if it is a positive finite number, else a one-line ParameterError."""
    import math

    if not (math.isfinite(lr) and 0 < lr < 1):
        raise ParameterError(f"--lr {lr}: give a learning rate between 0 and 1, e.g. 1e-3")
    return lr


def add_common(p, default_options: str) -> None:
    """--model, --dataset, --out, --force, --images, --chips, --seed, --set, --first-last, --calib-images, --pdk."""
    p.add_argument("--model", required=True, metavar="NAME|FILE.onnx", help="the network (see `charz models`)")
    p.add_argument("--dataset", required=True, metavar="NAME|PATH", help="its dataset (see `charz data`)")
    p.add_argument("--out", required=True, help="folder for study.md, result.json and the PNGs (new, or --force)")
    p.add_argument("--force", action="store_true", help="write into an --out that already holds a study")
    p.add_argument("--images", type=int, default=DEFAULT_IMAGES,
                   help=f"test images, the first of a class-balanced order (default {DEFAULT_IMAGES})")
    p.add_argument("--chips", type=int, default=DEFAULT_CHIPS, help=f"simulated chips (default {DEFAULT_CHIPS})")
    p.add_argument("--seed", type=int, default=0, help="chip seed (default 0)")
    p.add_argument("--set", action="append", default=None, metavar="KEY=VALUE",
                   help=f"a cim backend option of the main path (repeatable; default {default_options})")
    p.add_argument("--first-last", choices=("digital", "same"), default="digital",
                   help="first and last weight layer digital (default) or on the CiM column like the others")
    p.add_argument("--calib-images", type=int, default=256,
                   help="training images that calibrate the activation ranges (default 256)")
    p.add_argument("--pdk", default="ptm16hp", help="PDK of the default LUTs (default ptm16hp)")


def prepare(args, fit_count: int | None, default_luts: dict | None = None) -> Context:
    """Check everything before any run: the model, the numbers, the output folder (refused when it holds a
    ``result.json`` unless --force), the backend options (*default_luts*: option -> default LUT name on the
    search path, used when not given), then load the test split and ``max(fit_count, --calib-images)``
    training images (*fit_count* None: the whole training split)."""
    from ..core.lut import find_default
    from ..datasets import load
    from ..network.model_report import find_model, parse_set

    model = find_model(args.model)
    for flag, v, lo in (("--images", args.images, 1), ("--chips", args.chips, 1), ("--calib-images",
                                                                                    args.calib_images, 1)):
        if v < lo:
            raise ParameterError(f"{flag} {v}: give at least {lo}")
    if args.chips > 1000:
        raise ParameterError(f"--chips {args.chips}: at most 1000")
    opts = parse_set(args.set)
    for key, name in (default_luts or {}).items():
        if key not in opts:
            opts[key] = str(find_default(args.pdk, name))
    out = Path(args.out)
    if (out / "result.json").exists() and not args.force:
        raise CharzError(f"{out} already holds a study (result.json): give --force to replace it or choose another "
                         f"--out")
    test = load(args.dataset, "test", limit=args.images)
    fit = load(args.dataset, "train", limit=None if fit_count is None else max(fit_count, args.calib_images))
    out.mkdir(parents=True, exist_ok=True)
    return Context(model=model, test=test, fit=fit, options=opts, out=out, calib_count=args.calib_images,
                   dataset=args.dataset)


def about(ctx: Context) -> dict:
    """The model, the data and the training split's size, for the result."""
    from ..datasets import load

    try:
        n_train = load(ctx.dataset, "train").images.shape[0]
    except CharzError:
        n_train = None
    return {"model": str(ctx.model), "dataset": ctx.test.description, "train_split_size": n_train}
