"""The model zoo: small image classifiers trained with PyTorch and shipped as ONNX files.

Each model is a :class:`ZooModel` in :data:`MODELS` (its PyTorch definition, built inside a function, and
its training recipe). :func:`train` trains one on a dataset read by :func:`charz.datasets.load`, exports it
to ONNX (opset 17) with its preprocessing in the ONNX ``metadata_props`` (key :data:`PREPROCESS_KEY`),
measures the float test accuracy by running the exported file in charz's float executor on the whole test split,
and writes ``<name>.json`` beside ``<name>.onnx`` with the recipe and what the run measured. The files
shipped with charz lie in :data:`MODELS_DIR`; ``charz models`` lists them (:func:`shipped`).

PyTorch is the optional ``charz[train]`` extra and serves training only: this module imports it inside
the functions that train or export, never at import time, and nothing that reads a shipped model needs it
(:func:`shipped`, :func:`onnx_parameters`, :func:`onnx_macs`, :func:`onnx_accuracy`, which runs the float graph in charz's own executor).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.errors import CharzError, DataError, ParameterError

MODELS_DIR = Path(__file__).with_name("models")
"""The shipped models: ``<name>.onnx`` and its recipe / measurements ``<name>.json``."""

PREPROCESS_KEY = "charz.preprocess"
"""ONNX ``metadata_props`` key of the preprocessing (JSON): ``x = (image * scale - mean) / std``, NCHW."""

OPSET = 17
"""ONNX opset of the exported files (LayerNormalization is an operator from opset 17 on)."""

TRAIN_EXTRA = "install the training extra: pip install 'charz[train]'"
"""The one-line hint when PyTorch is missing."""


class TrainingExtraMissing(CharzError):
    """PyTorch (the ``charz[train]`` extra) is not installed."""


@dataclasses.dataclass(frozen=True)
class ZooModel:
    """One model of the zoo: what it is and how it is trained (the recipe written into its JSON)."""

    name: str
    """The name ``charz train --model`` takes and the file stem."""
    dataset: str
    """The dataset of the recipe (a :func:`charz.datasets.load` name)."""
    summary: str
    """One line for ``charz models`` and the JSON."""
    build: str
    """Name of the function of this module that builds the ``torch.nn.Module``: ``f(in_shape, n_classes)``."""
    epochs: int
    """Epochs of the recipe."""
    lr: float
    """Peak learning rate (the schedule is :attr:`schedule`)."""
    batch: int
    """Mini-batch size."""
    optimizer: str = "adam"
    """``"adam"``, ``"adamw"`` or ``"sgd"`` (SGD with Nesterov momentum 0.9)."""
    weight_decay: float = 0.0
    """L2 weight decay (decoupled for AdamW)."""
    schedule: str = "onecycle"
    """``"onecycle"`` (linear warm-up over the first 10 % of the steps, then cosine to 0) or ``"cosine"``."""
    augmentation: tuple[str, ...] = ()
    """Training-time augmentations: ``"shift:P"`` (pad P pixels, random crop back), ``"hflip"``."""
    label_smoothing: float = 0.0
    """Label smoothing of the cross-entropy loss."""
    precision: str = "fp32"
    """Arithmetic of the training steps: ``"fp32"``, or ``"bf16"`` (PyTorch's CPU autocast to bfloat16 for
    convolutions and matrix products, weights and optimizer state kept in float32, activations in channels-last
    layout: about twice as fast on a CPU with AVX-512 BF16 instructions). The exported model is float32 either
    way."""
    goal: float | None = None
    """Float test accuracy the recipe aims at (fraction); the JSON says whether the run reached it."""

    def recipe(self) -> dict:
        """The recipe as JSON-ready values (without the measured ones)."""
        return {"dataset": self.dataset, "epochs": self.epochs, "lr": self.lr, "batch": self.batch,
                "optimizer": self.optimizer, "weight_decay": self.weight_decay, "schedule": self.schedule,
                "augmentation": list(self.augmentation), "label_smoothing": self.label_smoothing,
                "precision": self.precision, "goal_accuracy": self.goal}


MODELS: dict[str, ZooModel] = {m.name: m for m in (
    ZooModel("lenet5", "mnist", "LeNet-5 (two 5x5 convolutions with max pooling, three dense layers, ReLU)",
             build="build_lenet5", epochs=10, lr=2e-3, batch=128, augmentation=("shift:2",), goal=0.99),
    ZooModel("mlp_mnist", "mnist", "MLP: flattened 28x28 image, dense 256 - 128 - 10 with biases, ReLU",
             build="build_mlp", epochs=10, lr=1e-3, batch=128, goal=0.98),
    ZooModel("cnn_fashion", "fashion-mnist",
             "small CNN: three 3x3 convolutions (32/64/64) with batch norm and max pooling, dense 128",
             build="build_cnn_fashion", epochs=15, lr=2e-3, batch=128, weight_decay=1e-4,
             augmentation=("hflip",), label_smoothing=0.05),
    ZooModel("vit_mnist", "mnist",
             "vision transformer: 7x7 patches, class token, 3 pre-norm encoder blocks (dim 64, 4 heads, GELU MLP "
             "128)", build="build_vit", epochs=20, lr=2e-3, batch=128, optimizer="adamw", weight_decay=0.05,
             augmentation=("shift:2",)),
    ZooModel("resnet20", "cifar10",
             "ResNet-20 for CIFAR (3x3 convolutions, 3 stages of 3 basic blocks, 16/32/64 channels, identity "
             "shortcuts zero-padded)", build="build_resnet20", epochs=80, lr=0.1, batch=128, optimizer="sgd",
             weight_decay=5e-4, schedule="onecycle", augmentation=("shift:4", "hflip"), precision="bf16",
             goal=0.88),
)}
"""The zoo, by name."""


def get(name: str) -> ZooModel:
    """The zoo model called *name*; a one-line ``ParameterError`` for an unknown one."""
    try:
        return MODELS[name]
    except KeyError:
        raise ParameterError(f"unknown model '{name}': choose one of {', '.join(MODELS)}") from None


# --- reading shipped models (no torch) -------------------------------------------------------------------

def shipped(folder: Path | str | None = None) -> list[dict]:
    """The JSON record of every model in *folder* (default :data:`MODELS_DIR`), in :data:`MODELS` order then
    by name, each with ``"name"``, ``"json"`` (its path) and ``"onnx"`` (the model file's path, or None when
    only the recipe is shipped)."""
    folder = Path(folder) if folder is not None else MODELS_DIR
    order = {name: i for i, name in enumerate(MODELS)}
    records = []
    for path in sorted(folder.glob("*.json"), key=lambda p: (order.get(p.stem, len(order)), p.stem)):
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"unreadable model record {path}: {exc}") from None
        onnx_file = path.with_suffix(".onnx")
        rec.update(name=rec.get("name", path.stem), json=str(path),
                   onnx=str(onnx_file) if onnx_file.exists() else None)
        records.append(rec)
    return records


def onnx_parameters(model) -> int:
    """Number of parameters of an ONNX model (``onnx.ModelProto``): the elements of its float initializers."""
    from onnx import TensorProto

    floats = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}
    return int(sum(int(np.prod(t.dims, dtype=np.int64)) for t in model.graph.initializer if t.data_type in floats))


def _dims(value_info) -> list[int] | None:
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    # a symbolic dimension (the batch) counts as 1: the MACs are per image
    return [d.dim_value if d.HasField("dim_value") else 1 for d in t.shape.dim]


def onnx_macs(model) -> int:
    """Multiply-accumulates per image of an ONNX model: every Conv, Gemm and MatMul (shapes from ONNX shape
    inference, the batch dimension taken as 1); element-wise operators, pooling and normalizations are not
    counted."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    shapes = {v.name: _dims(v) for v in list(g.input) + list(g.value_info) + list(g.output)}
    shapes.update({t.name: list(t.dims) for t in g.initializer})
    macs = 0
    for node in g.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul"):
            continue
        a, b, y = shapes.get(node.input[0]), shapes.get(node.input[1]), shapes.get(node.output[0])
        if a is None or b is None or y is None:
            raise DataError(f"cannot count the MACs of {node.op_type} node '{node.name}': unknown shape")
        if node.op_type == "Conv":
            macs += int(np.prod(y)) * int(np.prod(b[1:]))  # each output: C_in/groups * kernel products
        elif node.op_type == "Gemm":
            trans_a = next((at.i for at in node.attribute if at.name == "transA"), 0)
            macs += int(np.prod(y)) * (a[0] if trans_a else a[-1])
        else:
            macs += int(np.prod(y)) * a[-1]
    return macs


def preprocess_of(model) -> dict:
    """The preprocessing stored in an ONNX model's metadata (:data:`PREPROCESS_KEY`)."""
    for prop in model.metadata_props:
        if prop.key == PREPROCESS_KEY:
            return json.loads(prop.value)
    raise DataError(f"the ONNX model has no '{PREPROCESS_KEY}' metadata")


def preprocess(images: np.ndarray, pre: dict) -> np.ndarray:
    """uint8 images (N, H, W, C) to the float32 NCHW input a zoo model takes, as *pre* (its
    :data:`PREPROCESS_KEY` record) says: ``(image * scale - mean) / std`` per channel (the executor's own
    :func:`charz.network.engine.preprocess`, so training and evaluation read images the same way)."""
    from .engine import preprocess as engine_preprocess

    return engine_preprocess(images, pre, (None, *pre["input_shape"]), np.float32)


def onnx_accuracy(path: Path | str, images: np.ndarray, labels: np.ndarray, batch: int = 500) -> float:
    """Top-1 accuracy of the ONNX model at *path* on uint8 *images* (N, H, W, C) with *labels*, run by charz's
    own float executor (:func:`charz.network.graph.run`; onnxruntime is only the tests' reference) after the
    preprocessing stored in the file."""
    import onnx

    from .graph import run
    from .onnx_import import load_onnx

    model = onnx.load(str(path), load_external_data=False)
    pre = preprocess_of(model)
    graph = load_onnx(model)
    name, out = graph.inputs[0][0], graph.outputs[0]
    correct = 0
    for i in range(0, len(images), batch):
        logits = run(graph, {name: preprocess(images[i:i + batch], pre)})[out]
        correct += int((logits.argmax(1) == labels[i:i + batch]).sum())
    return correct / max(len(images), 1)


# --- model definitions (PyTorch, built inside functions) -------------------------------------------------

def _torch():
    try:
        import torch
    except ImportError:
        raise TrainingExtraMissing(f"training needs PyTorch: {TRAIN_EXTRA}") from None
    return torch


def build_lenet5(in_shape: tuple[int, int, int], n_classes: int):
    """LeNet-5: conv 5x5 (6, padding 2) - ReLU - max pool 2 - conv 5x5 (16) - ReLU - max pool 2 - dense 120 -
    84 - *n_classes* (ReLU between). 61,706 parameters on 1x28x28 and 10 classes."""
    nn = _torch().nn
    c, h, w = in_shape
    flat = 16 * ((h // 2 - 4) // 2) * ((w // 2 - 4) // 2)
    return nn.Sequential(
        nn.Conv2d(c, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(flat, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, n_classes))


def build_mlp(in_shape: tuple[int, int, int], n_classes: int, hidden: tuple[int, ...] = (256, 128)):
    """A multilayer perceptron: the image flattened (C*H*W inputs), dense layers of *hidden* widths with ReLU
    between, dense *n_classes* (biases on every layer). 235,146 parameters on 1x28x28 and 10 classes."""
    nn = _torch().nn
    layers, width = [nn.Flatten()], int(np.prod(in_shape))
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, n_classes))


def build_cnn_fashion(in_shape: tuple[int, int, int], n_classes: int):
    """A small CNN: three blocks conv 3x3 (32, 64, 64; padding 1) - batch norm - ReLU - max pool 2, then
    dropout 0.25, dense 128 - ReLU - dense *n_classes*."""
    nn = _torch().nn
    c, h, w = in_shape
    layers, ch = [], c
    for out in (32, 64, 64):
        layers += [nn.Conv2d(ch, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
        ch = out
    flat = 64 * (h // 8) * (w // 8)
    return nn.Sequential(*layers, nn.Flatten(), nn.Dropout(0.25), nn.Linear(flat, 128), nn.ReLU(),
                         nn.Linear(128, n_classes))


def build_vit(in_shape: tuple[int, int, int], n_classes: int, dim: int = 64, depth: int = 3, heads: int = 4,
              mlp: int = 128):
    """A small vision transformer: non-overlapping patches (7x7 when the image side divides by 7, else 4x4)
    embedded by a strided convolution, a class token and learned position embeddings, *depth* pre-norm
    encoder blocks (LayerNorm - multi-head self-attention with *heads* heads - residual, LayerNorm - GELU MLP
    of width *mlp* - residual), a final LayerNorm and a dense head on the class token. Attention is written
    out (MatMul, Softmax) so the ONNX file shows every product."""
    torch = _torch()
    nn = torch.nn
    c, h, w = in_shape
    patch = 7 if h % 7 == 0 and w % 7 == 0 else 4
    if h % patch or w % patch:
        raise ParameterError(f"the vision transformer needs image sides divisible by 7 or 4, not {h}x{w}")
    tokens = (h // patch) * (w // patch) + 1

    class Attention(nn.Module):
        """Multi-head self-attention (fused QKV projection, scaled dot products, output projection)."""

        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)
            self.scale = (dim // heads) ** -0.5

        def forward(self, x):
            """Attention over the tokens of *x* (batch, tokens, dim)."""
            b, t, _ = x.shape
            q, k, v = self.qkv(x).reshape(b, t, 3, heads, dim // heads).permute(2, 0, 3, 1, 4).unbind(0)
            att = torch.softmax((q * self.scale) @ k.transpose(-2, -1), dim=-1)
            return self.proj((att @ v).transpose(1, 2).reshape(b, t, dim))

    class Block(nn.Module):
        """One pre-norm encoder block."""

        def __init__(self):
            super().__init__()
            self.norm1, self.attn = nn.LayerNorm(dim), Attention()
            self.norm2 = nn.LayerNorm(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

        def forward(self, x):
            """The block on tokens *x*."""
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class ViT(nn.Module):
        """Patch embedding, class token, encoder blocks, head."""

        def __init__(self):
            super().__init__()
            self.embed = nn.Conv2d(c, dim, patch, stride=patch)
            self.cls = nn.Parameter(torch.zeros(1, 1, dim))
            self.pos = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
            self.blocks = nn.Sequential(*[Block() for _ in range(depth)])
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, n_classes)

        def forward(self, x):
            """Logits of the images *x* (batch, C, H, W)."""
            x = self.embed(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
            return self.head(self.norm(self.blocks(x))[:, 0])

    return ViT()


def build_resnet20(in_shape: tuple[int, int, int], n_classes: int):
    """ResNet-20 for CIFAR (He et al. 2016, section 4.2): conv 3x3 (16) - BN - ReLU, three stages of three
    basic blocks (two conv 3x3 - BN, ReLU) with 16, 32, 64 channels (stride 2 at the start of stages 2 and 3,
    shortcut: identity, subsampled and zero-padded in channels where the shape changes), global average
    pooling, dense *n_classes*. 0.27 M parameters."""
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional

    class Basic(nn.Module):
        """Basic residual block (option A shortcut)."""

        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.stride, self.pad = stride, cout - cin

        def forward(self, x):
            """The block on feature maps *x*."""
            y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            s = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
            if self.pad:
                s = F.pad(s, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
            return F.relu(y + s)

    class ResNet20(nn.Module):
        """Stem, three stages, pooling, head."""

        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(in_shape[0], 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
            blocks, cin = [], 16
            for cout, stride in ((16, 1), (32, 2), (64, 2)):
                for i in range(3):
                    blocks.append(Basic(cin, cout, stride if i == 0 else 1))
                    cin = cout
            self.blocks = nn.Sequential(*blocks)
            self.head = nn.Linear(64, n_classes)
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.kaiming_normal_(m.weight)

        def forward(self, x):
            """Logits of the images *x*."""
            return self.head(self.blocks(self.stem(x)).mean((2, 3)))

    return ResNet20()


# --- training --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Fit:
    """What :func:`fit` returns: the trained module (eval mode) and how the training went."""

    module: object
    """The trained ``torch.nn.Module``."""
    preprocess: dict
    """The :data:`PREPROCESS_KEY` record (mean / std measured on the training images)."""
    in_shape: tuple[int, int, int]
    """(C, H, W) of one input."""
    classes: list
    """Class names of the dataset."""
    step_losses: list[float]
    """Training loss of every step."""
    epochs: list[dict]
    """Per epoch: ``epoch``, ``loss`` (mean), ``train_accuracy``, ``seconds``."""
    seconds: float
    """Wall time of the training loop (s)."""
    train_images: int
    """Training images used."""


def _dataset(name: str, split: str, limit: int | None):
    from .. import datasets

    return datasets.load(name, split, limit=limit)


def _augment(torch, x, augmentation, gen):
    for aug in augmentation:
        kind, _, arg = aug.partition(":")
        if kind == "shift":
            p = int(arg)
            n, _, h, w = x.shape
            padded = torch.nn.functional.pad(x, (p, p, p, p))
            oy = torch.randint(0, 2 * p + 1, (n,), generator=gen)
            ox = torch.randint(0, 2 * p + 1, (n,), generator=gen)
            rows = (oy[:, None] + torch.arange(h))[:, None, :, None]
            cols = (ox[:, None] + torch.arange(w))[:, None, None, :]
            x = padded[torch.arange(n)[:, None, None, None], torch.arange(x.shape[1])[None, :, None, None], rows, cols]
        elif kind == "hflip":
            flip = torch.rand(x.shape[0], generator=gen) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        else:
            raise ParameterError(f"unknown augmentation '{aug}'")
    return x


def fit(name: str, dataset: str | None = None, epochs: int | None = None, limit: int | None = None,
        seed: int = 0, progress: Callable[[str], None] | None = print, checkpoint: Path | str | None = None) -> Fit:
    """Train zoo model *name* on *dataset* (default the recipe's) for *epochs* (default the recipe's) on
    *limit* training images (default all; :func:`charz.datasets.load` picks them), following its recipe;
    *progress* gets one line per epoch.

    With *checkpoint* (a file path) the whole training state (weights, optimizer, schedule, random streams,
    history) is written there after every epoch, and a checkpoint of the same run (name, dataset, epochs,
    limit, seed) found there at the start is continued from its last epoch: a long training may span several
    processes with the same result as one. A checkpoint of another run is a one-line error."""
    torch = _torch()
    spec = get(name)
    dataset = dataset or spec.dataset
    epochs = spec.epochs if epochs is None else int(epochs)
    if epochs < 1:
        raise ParameterError(f"--epochs must be at least 1, not {epochs}")
    if limit is not None and limit < 1:
        raise ParameterError(f"--limit must be at least 1, not {limit}")
    data = _dataset(dataset, "train", limit)
    images = np.asarray(data.images)
    n, h, w, c = images.shape
    in_shape = (c, h, w)
    scaled = images.reshape(n, -1, c).astype(np.float64) / 255.0
    pre = {"mean": [round(float(v), 6) for v in scaled.mean((0, 1))],
           "std": [round(float(v), 6) for v in scaled.std((0, 1))],
           "scale": 1 / 255, "layout": "NCHW", "input_shape": [c, h, w], "classes": list(data.classes),
           "source": f"mean and std of the {n} {dataset} training images"}
    x_all = torch.from_numpy(preprocess(images, pre))
    y_all = torch.from_numpy(np.array(data.labels, dtype=np.int64))
    n_classes = len(data.classes)

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = globals()[spec.build](in_shape, n_classes)
    if spec.precision not in ("fp32", "bf16"):
        raise ParameterError(f"model '{name}': precision must be fp32 or bf16, not '{spec.precision}'")
    bf16 = spec.precision == "bf16"
    if bf16:
        model = model.to(memory_format=torch.channels_last)
    try:
        with torch.no_grad():
            model.eval()(x_all[:2])
    except RuntimeError as exc:
        raise ParameterError(f"model '{name}' does not fit {dataset} images ({c}x{h}x{w}): "
                             f"{str(exc).splitlines()[0]}") from None
    decay, no_decay = [], []
    for pname, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or pname in ("cls", "pos") else decay).append(p)
    groups = [{"params": decay, "weight_decay": spec.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if spec.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=spec.lr, momentum=0.9, nesterov=True)
    elif spec.optimizer == "adamw":
        opt = torch.optim.AdamW(groups, lr=spec.lr)
    else:
        opt = torch.optim.Adam(groups, lr=spec.lr)
    steps_per_epoch = (n + spec.batch - 1) // spec.batch
    total = epochs * steps_per_epoch
    warm = max(1, total // 10) if spec.schedule == "onecycle" else 0

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return float(0.5 * (1 + np.cos(np.pi * (step - warm) / max(total - warm, 1))))  # a plain float: checkpoints

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=spec.label_smoothing)
    step_losses: list[float] = []
    history: list[dict] = []
    run_id = {"name": name, "dataset": dataset, "epochs": epochs, "limit": limit, "seed": seed, "train_images": n}
    done_s, first = 0.0, 0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.exists():
        try:
            st = torch.load(str(ckpt), weights_only=True)  # tensors, numbers, strings, lists and dicts only
        except Exception as exc:
            raise ParameterError(f"checkpoint {ckpt} is unreadable ({type(exc).__name__}): delete it to start "
                                 f"over") from None
        if st.get("run") != run_id:
            raise ParameterError(f"checkpoint {ckpt} belongs to another run ({st.get('run')}): delete it or give "
                                 f"the same model, dataset, epochs, limit and seed")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        gen.set_state(st["gen"])
        torch.set_rng_state(st["torch_rng"])
        step_losses, history, done_s = list(st["step_losses"]), list(st["history"]), float(st["seconds"])
        first = len(history)
        if progress:
            progress(f"{name}: resuming from {ckpt} after epoch {first}/{epochs}")
    t0 = time.perf_counter() - done_s
    for epoch in range(first, epochs):
        te = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=gen)
        loss_sum, correct = 0.0, 0
        for i in range(0, n, spec.batch):
            idx = order[i:i + spec.batch]
            xb, yb = _augment(torch, x_all[idx], spec.augmentation, gen), y_all[idx]
            if bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    out = model(xb.contiguous(memory_format=torch.channels_last))
                out = out.float()
            else:
                out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step_losses.append(loss.item())
            loss_sum += step_losses[-1] * len(idx)
            correct += int((out.argmax(1) == yb).sum())
        rec = {"epoch": epoch + 1, "loss": round(loss_sum / n, 5), "train_accuracy": round(correct / n, 5),
               "seconds": round(time.perf_counter() - te, 1)}
        history.append(rec)
        if ckpt is not None:  # written beside, then renamed: a kill never leaves half a checkpoint
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            tmp = ckpt.with_name(ckpt.name + ".tmp")
            torch.save({"run": run_id, "model": model.state_dict(), "opt": opt.state_dict(),
                        "sched": sched.state_dict(), "gen": gen.get_state(), "torch_rng": torch.get_rng_state(),
                        "step_losses": step_losses, "history": history,
                        "seconds": time.perf_counter() - t0}, str(tmp))
            tmp.replace(ckpt)
        if progress:
            progress(f"{name} epoch {epoch + 1}/{epochs}: loss {rec['loss']:.4f}, train accuracy "
                     f"{100 * rec['train_accuracy']:.2f} % ({rec['seconds']:.0f} s)")
    seconds = time.perf_counter() - t0
    model = model.to(memory_format=torch.contiguous_format).eval()
    return Fit(model, pre, in_shape, list(data.classes), step_losses, history, seconds, n)


def export(result: Fit, path: Path | str, doc: str = "") -> Path:
    """Write the trained module of *result* to ONNX file *path* (opset :data:`OPSET`, dynamic batch, input
    ``input`` NCHW float32, output ``logits``) with the preprocessing in its metadata; returns the path."""
    torch = _torch()
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, *result.in_shape)
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter's notes on tracing (constant folding of strided slices, shape reads) are
        # not the user's business: the file is checked below and measured by train()
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        torch.onnx.export(result.module, (dummy,), str(path), dynamo=False, opset_version=OPSET,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)
    model = onnx.load(str(path))
    del model.metadata_props[:]
    prop = model.metadata_props.add()
    prop.key, prop.value = PREPROCESS_KEY, json.dumps(result.preprocess)
    model.doc_string = doc
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def train(name: str, dataset: str | None = None, epochs: int | None = None, limit: int | None = None,
          out: Path | str | None = None, seed: int = 0, progress: Callable[[str], None] | None = print,
          force: bool = False, resume: bool = False) -> dict:
    """Train zoo model *name* (:func:`fit`), export it to *out* (default ``out/zoo/<name>.onnx``), measure its
    float test accuracy with charz's float executor on the whole test split of the dataset and write the JSON record
    beside the ONNX file; returns the record. An existing *out* (or its JSON record) is a one-line error before
    any training unless *force*. The training state is checkpointed after every epoch in ``<out>.ckpt``
    (:func:`fit`), removed once the record is written; *resume* continues a killed run from it (without
    *resume* an existing checkpoint is a one-line error)."""
    import onnx

    spec = get(name)
    dataset = dataset or spec.dataset
    out = Path(out) if out is not None else Path("out") / "zoo" / f"{name}.onnx"
    if out.suffix != ".onnx":
        raise ParameterError(f"--out must name an .onnx file, not '{out}'")
    for p in (out, out.with_suffix(".json")):
        if p.exists() and not force:
            raise ParameterError(f"{p} already exists: give --force to replace it or choose another --out")
    ckpt = out.with_suffix(".ckpt")
    if ckpt.exists() and not resume:
        raise ParameterError(f"{ckpt} holds an unfinished training run: give --resume to continue it, or delete it")
    if resume and not ckpt.exists():
        raise ParameterError(f"--resume: no checkpoint {ckpt} to continue (it is written beside --out after every "
                             f"epoch)")
    torch = _torch()
    result = fit(name, dataset, epochs, limit, seed, progress, checkpoint=ckpt)
    export(result, out, doc=f"charz zoo model {name}: {spec.summary}; trained on {dataset}")
    model = onnx.load(str(out))
    test = _dataset(dataset, "test", None)
    acc = onnx_accuracy(out, np.asarray(test.images), np.asarray(test.labels))
    n_epochs = len(result.epochs)
    recipe = dict(spec.recipe(), dataset=dataset, epochs=n_epochs)
    quantized = quantized_accuracy(out, dataset)
    record = {
        "name": name, "summary": spec.summary, "status": "trained",
        "recipe": recipe, "seed": seed, "train_images": result.train_images,
        "full_recipe": recipe["epochs"] == spec.epochs and limit is None and dataset == spec.dataset,
        "preprocess": result.preprocess,
        "float_test_accuracy": round(acc, 5), "test_images": int(len(test.labels)),
        "accuracy_measured_with": "charz.network.graph (the float executor) on the exported file, whole test split",
        "quantized": quantized,
        "goal_reached": None if spec.goal is None or dataset != spec.dataset else bool(acc >= spec.goal),
        "parameters": onnx_parameters(model), "macs_per_image": onnx_macs(model),
        "onnx_bytes": out.stat().st_size, "onnx_sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "opset": OPSET, "training_seconds": round(result.seconds, 1), "epochs_log": result.epochs,
        "torch_version": torch.__version__, "torch_threads": torch.get_num_threads(),
        "command": (f"charz train --model {name} --dataset {dataset} --epochs {n_epochs}"
                    + (f" --limit {limit}" if limit is not None else "") + (f" --seed {seed}" if seed else "")
                    + f" --out {out}" + (" --force" if force else "") + (" --resume" if resume else "")),
    }
    out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    ckpt.unlink(missing_ok=True)
    if progress:
        progress(f"{name}: float test accuracy {100 * acc:.2f} % on {record['test_images']} {dataset} test images "
                 f"(charz float executor), {record['parameters']} parameters, {record['macs_per_image']} MACs per image, "
                 f"trained in {record['training_seconds']:.0f} s; wrote {out} and {out.with_suffix('.json')}")
    return record


QUANTIZED_IMAGES = 1000
"""Test images of the quantized-accuracy figure in a model's record (the first of the class-balanced order)."""


def quantized_accuracy(path: Path | str, dataset: str, images: int = QUANTIZED_IMAGES) -> dict:
    """The accuracy of ONNX model *path* quantized as ``charz eval`` quantizes it by default (8-bit weights per
    output channel, 8-bit activations calibrated on the first 256 evaluated images), every layer on the
    ``exact`` backend (the quantized ideal, exact integer arithmetic), on the first *images* test images of
    *dataset*; with the float accuracy on the same images. Returns the JSON-ready record."""
    from .engine import evaluate_model

    data = _dataset(dataset, "test", images)
    r = evaluate_model(str(path), data.images, data.labels, None, chips=1, backend="exact", first_last="same")
    return {"accuracy": round(float(r["ideal_accuracy"]), 5), "float_accuracy_same_images": round(float(r["float_accuracy"]), 5),
            "test_images": int(r["n_images"]), "w_bits": 8, "x_bits": 8,
            "how": "charz.network.engine.evaluate_model, backend exact on every layer (the quantized ideal), "
                   "default quantization (8-bit per-channel weights, 8-bit activations calibrated on the first 256 "
                   "evaluated images)",
            "command": f"charz eval --model {Path(path).stem} --dataset {dataset} --images {images} --backend exact "
                       f"--first-last same --chips 1"}


def write_recipe(name: str, folder: Path | str = MODELS_DIR) -> Path:
    """Write the JSON record of zoo model *name* as a recipe only (:func:`recipe_record`) into *folder*, for a
    model whose training does not fit the machine at hand; returns its path. An ONNX file of that name in
    *folder* is refused (it would contradict the record)."""
    path = Path(folder) / f"{name}.json"
    if path.with_suffix(".onnx").exists():
        raise ParameterError(f"{path.with_suffix('.onnx')} exists: a trained model has its record from train()")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recipe_record(name), indent=1) + "\n", encoding="utf-8")
    return path


def recipe_record(name: str) -> dict:
    """The JSON record of a model shipped as its recipe only (not trained): the recipe, and parameters / MACs
    counted on an ONNX export of the untrained definition (written to a temporary file, not kept)."""
    import tempfile

    import onnx

    torch = _torch()
    spec = get(name)
    sample = np.asarray(_dataset(spec.dataset, "test", 1).images)
    shape = (sample.shape[3], sample.shape[1], sample.shape[2])
    torch.manual_seed(0)
    module = globals()[spec.build](shape, 10)
    with torch.no_grad():  # batch-norm statistics of random inputs: no two folded biases alike (no sharing)
        module.train()(torch.randn(16, *shape))
    dummy = Fit(module.eval(), {"mean": [0.0] * shape[0], "std": [1.0] * shape[0], "scale": 1 / 255,
                                "layout": "NCHW"}, shape, [], [], [], 0.0, 0)
    with tempfile.TemporaryDirectory() as tmp:
        model = onnx.load(str(export(dummy, Path(tmp) / f"{name}.onnx")))
    return {"name": name, "summary": spec.summary, "status": "recipe only: not trained",
            "recipe": spec.recipe(), "float_test_accuracy": None, "parameters": onnx_parameters(model),
            "macs_per_image": onnx_macs(model), "opset": OPSET, "torch_version": torch.__version__,
            "command": f"charz train --model {name} --dataset {spec.dataset} --out charz/network/models/{name}.onnx"}
