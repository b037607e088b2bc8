"""`charz eval --model`: any ONNX model on a dataset through the executor, from the command line (the
executor itself is tested in tests/test_engine_network.py, the graph in tests/test_onnx_graph.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from charz import cli


def run_main(capsys, *args):
    """`charz ARGS` in this process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    rc = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _digits_cnn(path):
    """A small CNN for the 8x8 digits (1x8x8 -> Conv 4x3x3 -> Relu -> Flatten -> Gemm 144x10), weights seeded."""
    rng = np.random.default_rng(0)
    w1 = rng.normal(0, 0.5, (4, 1, 3, 3)).astype(np.float32)
    w2 = rng.normal(0, 0.2, (10, 144)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c"], name="conv", pads=[0, 0, 0, 0]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w2"], ["y"], name="fc", transB=1)]
    g = helper.make_graph(nodes, "digits_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 10])],
                          [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, path)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return _digits_cnn(tmp_path_factory.mktemp("m") / "digits_cnn.onnx")


def test_exact_backend_equals_the_quantized_ideal_and_writes_the_report(model, tmp_path, capsys):
    out = tmp_path / "out"
    rc, stdout, _ = run_main(capsys, "eval", "--model", str(model), "--dataset", "digits", "--images", "60",
                             "--backend", "exact", "--first-last", "same", "--chips", "2", "--out", str(out))
    assert rc == 0, stdout
    res = json.loads((out / "result.json").read_text())
    assert res["n_images"] == 60 and res["chips"] == 2
    assert res["accuracy_per_chip"] == [res["ideal_accuracy"]] * 2  # exact integer arithmetic on both chips
    assert [row["backend"] for row in res["layers"]] == ["exact", "exact"]
    assert res["layers"][0]["macs_per_image"] == 36 * 4 * 9 and res["layers"][1]["macs_per_image"] == 1440
    for name in ("result.md", "result.txt", "energy_by_layer.png"):
        assert (out / name).stat().st_size > 0
    assert "| layer | op | backend |" in (out / "result.md").read_text()


def test_cim_backend_with_ideal_columns_equals_exact_and_counts_column_energy(model, capsys):
    rc, a, _ = run_main(capsys, "eval", "--model", str(model), "--dataset", "digits", "--images", "40",
                        "--backend", "cim", "--first-last", "same", "--set", "columns=ideal", "--chips", "1")
    assert rc == 0
    assert "chip accuracy" in a and "cim" in a
    ideal = float(a.split("ideal accuracy")[1].split("%")[0])
    chip = float(a.split("chip accuracy")[1].split("+-")[0])
    assert chip == ideal


def test_default_mapping_keeps_first_and_last_layer_digital_and_sweeps_adc_bits(model, tmp_path, capsys):
    out = tmp_path / "o"
    rc, a, _ = run_main(capsys, "eval", "--model", str(model), "--dataset", "digits", "--images", "30",
                        "--chips", "1", "--out", str(out), "--sweep-bits", "2,5")
    assert rc == 0
    res = json.loads((out / "result.json").read_text())
    assert [row["backend"] for row in res["layers"]] == ["digital", "digital"]
    assert res["sweeps"]["adc_bits"]["values"] == [2, 5]
    assert (out / "accuracy_vs_adc_bits.png").stat().st_size > 0


@pytest.mark.parametrize("args, needle", [
    (["--model", "nosuchmodel", "--dataset", "digits"], "neither an ONNX file nor a shipped model"),
    (["--model", "MODEL"], "--model needs --dataset"),
    (["--dataset", "digits"], "--dataset applies to --model only"),
    (["--model", "MODEL", "--dataset", "digits", "--set", "bogus=1"], "--set 'bogus=1'"),
    (["--model", "MODEL", "--dataset", "digits", "--mode", "sign"], "--mode does not apply to --model"),
    (["--model", "MODEL", "--dataset", "nosuchdataset"], "nosuchdataset"),
])
def test_bad_model_runs_are_one_line_errors(model, capsys, args, needle):
    args = [str(model) if a == "MODEL" else a for a in args]
    rc, _, err = run_main(capsys, "eval", *args)
    assert rc == 2 or rc == 6, err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_image_shards_give_the_same_result_bit_for_bit(model, tmp_path, capsys):
    lut = str(Path(__file__).resolve().parents[1] / "lut" / "ptm16hp" / "cim_column")
    res = []
    for shards in ("1", "3"):
        out = tmp_path / f"s{shards}"
        rc, stdout, _ = run_main(capsys, "eval", "--model", str(model), "--dataset", "digits", "--images", "30",
                                 "--backend", "cim", "--first-last", "same", "--set", f"lut={lut}",
                                 "--set", "mismatch_scale=4", "--chips", "2", "--shards", shards, "--out", str(out))
        assert rc == 0, stdout
        res.append(json.loads((out / "result.json").read_text()))
    a, b = res
    assert a["accuracy_per_chip"] == b["accuracy_per_chip"]
    assert a["energy_per_inference_J"] == b["energy_per_inference_J"] > 0
    assert [r["energy_per_image_J"] for r in a["layers"]] == [r["energy_per_image_J"] for r in b["layers"]]
    with pytest.raises(SystemExit) as exc:  # an argparse error
        run_main(capsys, "eval", "--model", str(model), "--dataset", "digits", "--shards", "0")
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--shards" in err and "from 1 to 10000" in err


def test_a_mapping_files_default_backend_holds_unless_backend_is_given(model, tmp_path, capsys):
    m = tmp_path / "map.toml"
    m.write_text('[defaults]\nbackend = "exact"\nfirst_last = "same"\n')
    for extra, want in (([], "exact"), (["--backend", "digital"], "digital")):
        out = tmp_path / ("o" + "".join(extra).replace("-", ""))
        rc, stdout, _ = run_main(capsys, "eval", "--model", str(model), "--dataset", "digits", "--images", "10",
                                 "--chips", "1", "--map", str(m), "--out", str(out), *extra)
        assert rc == 0, stdout
        res = json.loads((out / "result.json").read_text())
        assert [row["backend"] for row in res["layers"]] == [want, want]


def test_progress_bar_counts_every_image_of_every_run(capsys, monkeypatch):
    """map_chips' bar gets every image of every run (references and chips), in this process per batch and on
    a pool per finished task."""
    from charz.network import engine

    ticks = []

    class Bar:
        def __init__(self, total, show):
            self.total, self.show = total, show

        def update(self, n):
            ticks.append(n)

        def close(self):
            pass

    monkeypatch.setattr(engine, "_bar", Bar)
    images = np.random.default_rng(0).integers(0, 17, (20, 8, 8, 1)).astype(np.uint8)
    labels = np.arange(20) % 10
    m = _digits_cnn(Path(__import__("tempfile").mkdtemp()) / "m.onnx")
    for kw in ({"batch": 8}, {"batch": 8, "shards": 2}):
        ticks.clear()
        engine.evaluate_model(str(m), images, labels, None, chips=2, backend="exact", first_last="same",
                              calib_count=20, preprocess_record={"scale": 1 / 16, "input_shape": [1, 8, 8]},
                              progress=True, **kw)
        assert sum(ticks) == 4 * 20  # float, ideal, 2 chips
        assert max(ticks) <= 8  # per batch in this process
