"""``charz models``: list the models shipped with charz (the model zoo): dataset, float test accuracy, the
8-bit quantized accuracy (the quantized ideal on the first 1,000 test images), parameters and MACs per image, read from each model's JSON record (PyTorch is not needed)."""

from __future__ import annotations

VERB = "models"


def add_parser(sub) -> None:
    """Add ``models`` to the sub-command parsers *sub*."""
    p = sub.add_parser(VERB, help="list the shipped models of the zoo (ONNX files with their recipes)",
                       description="List the models shipped with charz (charz/network/models/NAME.onnx with the "
                                   "recipe and measurements in NAME.json): dataset, float test accuracy (measured on "
                                   "the whole test split after export; the record says with what), the 8-bit quantized accuracy "
                                   "(exact integer arithmetic, first 1,000 test images), parameters, MACs per "
                                   "image, training time. `charz train --model NAME` re-trains one.")
    p.add_argument("--folder", default=None, help="read the models in this folder instead of the shipped ones")
    p.set_defaults(func=cmd_models)


def _row(rec: dict) -> list[str]:
    acc = rec.get("float_test_accuracy")
    recipe = rec.get("recipe", {})
    secs = rec.get("training_seconds")
    return [rec["name"], recipe.get("dataset", "?"), f"{rec.get('parameters', 0):,}",
            f"{rec.get('macs_per_image', 0):,}",
            f"{100 * acc:.2f} %" if acc is not None else "not trained",
            (f"{100 * q['accuracy']:.2f} % (float {100 * q['float_accuracy_same_images']:.2f} %, {q['test_images']} "
             f"images)" if (q := rec.get("quantized")) else "-"),
            f"{secs:.0f} s" if secs is not None else "-", str(recipe.get("epochs", "-")),
            "yes" if rec.get("onnx") else "recipe only"]


def cmd_models(args) -> int:
    """``charz models``: print one line per shipped model (a table); returns 0."""
    from ..network.zoo import shipped

    records = shipped(args.folder)
    head = ["model", "dataset", "parameters", "MACs/image", "float test acc.", "8-bit acc. (float on the same images)", "training", "epochs",
            "ONNX file"]
    rows = [head] + [_row(r) for r in records]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    for r in records:
        print(f"{r['name']}: {r.get('summary', '')}" + (f" [{r['status']}]" if r.get("status") != "trained" else ""))
    if not records:
        print("no models found")
    return 0
