"""``charz study dub``: D.U.B. crossbar-attuned pruning against unstructured magnitude pruning (:mod:`charz.study.dub`,
:mod:`charz.study.dub_train`) from the command line: options, study.md, result.json, the figure."""

from __future__ import annotations

import json
import time

from ..core.errors import ParameterError
from . import common
from . import dub_train as dt

DESCRIPTION = ("D.U.B. crossbar-attuned pruning (arXiv 2403.13082): the CiM layers of an ONNX model (shipped or yours) are fine-tuned "
               "with the balance regularizer (variance of the columns' L0 proxies per crossbar) and pruned to a "
               "power-of-two number of weights per column of every 16-row crossbar, so each crossbar's converter "
               "needs fewer bits; beside unstructured magnitude pruning at the same sparsity. Accuracy on the "
               "executor with every layer read out by the SAR LUT of the resolution its structure needs; ADC energy "
               "per layer and per crossbar from the LUTs (README, 'Published methods'). Needs PyTorch.")
DEFAULT_OPTIONS_TEXT = "calibration=trim (each layer's adc_lut and full scale set by its pruned structure)"
PUBLISHED_REDUCTION = 7.13
"""arXiv 2403.13082: ADC energy reduced up to 7.13x."""


def add_arguments(p) -> None:
    """The method's own options."""
    p.add_argument("--keep", default="8,4,2",
                   help="weights kept per column of a 16-row crossbar, powers of two, comma-separated (default "
                        "8,4,2: sparsity 50, 75, 87.5 %%)")
    p.add_argument("--methods", default="dub,magnitude",
                   help="of dub, dub_unbalanced (the same cut without the balance term), magnitude (default "
                        "dub,magnitude)")
    p.add_argument("--epochs", default=",".join(map(str, dt.DEFAULT_EPOCHS)),
                   help="epochs of the regularized stage and of the masked fine-tuning (default 2,2)")
    common.add_lr(p)
    p.add_argument("--batchnorm", action="store_true",
                   help="fine-tune with a batch norm after every convolution (set to the identity, folded back into "
                        "the written model): for a model whose batch norms are folded, such as the shipped ResNet-20")
    p.add_argument("--train-images", type=int, default=None,
                   help="training images used for the fine-tuning (default: the whole training split)")


def run(args) -> int:
    """Check the options, run the study, write OUT/result.json, OUT/study.md and the PNG. Returns 0."""
    keeps = common.int_list(args.keep, "--keep")
    epochs = tuple(common.int_list(args.epochs, "--epochs"))
    if not keeps or any(k < 1 or k > 16 or k & (k - 1) for k in keeps):
        raise ParameterError(f"--keep {args.keep}: powers of two from 1 to 16")
    if len(epochs) != 2 or min(epochs) < 0:
        raise ParameterError(f"--epochs {args.epochs}: two integers >= 0 (regularized, masked)")
    lr = common.check_lr(args.lr)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods or any(m not in dt.METHODS for m in methods):
        raise ParameterError(f"--methods {args.methods}: of {', '.join(dt.METHODS)}")
    if args.train_images is not None and args.train_images < 1:
        raise ParameterError("--train-images must be >= 1")
    from ..network import zoo

    zoo._torch()  # a one-line error before anything runs when PyTorch is missing
    ctx = common.prepare(args, fit_count=args.train_images)
    dt.load_module(ctx.model)  # refused here, before anything runs, when its graph cannot be trained
    opts = {"calibration": "trim", **ctx.options}
    t0 = time.time()
    res = dt.run_study(ctx.model, (ctx.test.images, ctx.test.labels), (ctx.fit.images, ctx.fit.labels),
                       keeps=keeps, methods=methods, chips=args.chips, seed=args.seed, epochs=epochs, options=opts,
                       pdk=args.pdk, calib_count=ctx.calib_count, out=ctx.out, lr=lr, batchnorm=args.batchnorm, log=lambda s: print(s, flush=True))
    res.update(common.about(ctx), seconds=time.time() - t0, n_test_images=int(ctx.test.images.shape[0]),
               n_train_images=int(ctx.fit.images.shape[0]),
               published={"adc_energy_reduction": PUBLISHED_REDUCTION, "source": "arXiv 2403.13082"})
    title = f"D.U.B. pruning: {ctx.model.stem} on {ctx.test.description}"
    (ctx.out / "result.json").write_text(json.dumps(res, indent=1, default=str))
    (ctx.out / "study.md").write_text(markdown(res, title))
    from ..plot.study import dub_figure

    paths = [ctx.out / "result.json", ctx.out / "study.md", dub_figure(res, ctx.out / "adc_energy_vs_accuracy.png",
                                                                       title)]
    print(markdown(res, title))
    for p in paths:
        print(f"wrote {p}")
    return 0


def markdown(res: dict, title: str) -> str:
    """The table: per run sparsity, accuracy, each layer's resolution, ADC energy per inference (per layer and per
    crossbar) and its reduction against the dense model; the published figure beside it with the reasons."""
    lut_e = ", ".join(f"{b} bits {v['energy_J'] * 1e15:.1f} fJ" for b, v in sorted(res["adc_luts"].items()))
    lines = [f"# {title}", "", f"{res['chips']} chips, {res['n_test_images']} test images, fine-tuned on "
             f"{res['n_train_images']} training images (Adam, learning rate {res.get('lr', 1e-3):g}"
             f"{', batch norms re-inserted' if res.get('batchnorm') else ''}); crossbars of {res['rows']} rows; main-path options "
             f"{json.dumps(res['options'])}; converter LUTs ({lut_e}).", "",
             "| run | sparsity | accuracy (mean ± std) | resolution per layer (bits / LUT / full-scale k) | "
             "ADC energy [nJ/inf.] | reduction | per-crossbar resolution [nJ/inf.] | reduction | analog TOPS/W |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in res["runs"]:
        lay = "; ".join(f"{v['bits']} / {v['lut_bits']} / {v['full_scale_k']}" for v in r.get("layers", {}).values()) \
            or "5-bit SAR, full scale"
        lines.append(f"| {r['label']} | {100 * r['sparsity']:.1f} % | {100 * r['accuracy_mean']:.2f} ± "
                     f"{100 * r['accuracy_std']:.2f} % | {lay} | {r['adc_energy_per_inference_J'] * 1e9:.2f} | "
                     f"{r['adc_reduction']:.2f}x | {r['adc_energy_per_crossbar_resolution_J'] * 1e9:.2f} | "
                     f"{r['adc_reduction_per_crossbar']:.2f}x | {r['analog_tops_per_watt']:.2f} |")
    pub = res.get("published", {})
    best = max(r["adc_reduction_per_crossbar"] for r in res["runs"])
    lines += ["", f"Published: ADC energy reduced up to {pub.get('adc_energy_reduction', PUBLISHED_REDUCTION)}x "
                  f"({pub.get('source', 'arXiv 2403.13082')}); ours at most {best:.2f}x here. Why:",
              "- our crossbars have 16 rows (the committed column LUT): a dense column needs 5 bits, so halving "
              "the rows saves one bit at a time from 5; larger crossbars start from more bits and gain more;",
              "- our smallest SA converter is 3 bits (the generator's minimum), so 2 or 1 weights per column "
              "still pay for a 3-bit conversion;",
              "- the energy per conversion comes from our SPICE SAR LUTs, whose energy does not halve per bit "
              "(the comparator and the switch drivers stay)."]
    return "\n".join(lines) + "\n"
