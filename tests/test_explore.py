"""charz explore: the space file, names -> recipe arguments, one point characterized in ngspice and evaluated
on LeNet-5, the study in SQLite (resume, refusal, failed points) and the Pareto report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from charz.blocks import REGISTRY
from charz.core.errors import LUTError, ParameterError, SimulationError
from charz.core.pdk import get
from charz.explore import space as sp
from charz.explore import study as st

optuna = pytest.importorskip("optuna")

TINY = """
[study]
trials = 2
sampler = "random"
seed = 3
objectives = ["accuracy_worst", "analog_tops_per_watt"]
[characterize]
vdd = 0.7
mc = 2
rows = 8
storage = "ideal"
[eval]
images = 20
chips = 1
calib_images = 20
[space]
t_pulse = { choices = ["50p", "100p"] }
"""


# ---- the space file -------------------------------------------------------------------------------------
def test_space_parses_dimensions_objectives_and_defaults():
    s = sp.parse_space(TINY.replace('{ choices = ["50p", "100p"] }', '{ low = "40p", high = "160p", step = "20p" }')
                       + 'c_wire = { low = "0.5f", high = "3f", log = true }\n"eval.calibration" = '
                         '{ choices = ["none", "offset"] }\nrows2 = { low = 8, high = 32 }\n', "t")
    d = {x.name: x for x in s.dims}
    assert d["t_pulse"].kind == "float" and d["t_pulse"].low == pytest.approx(40e-12)
    assert d["t_pulse"].step == pytest.approx(20e-12)
    assert d["c_wire"].log and d["c_wire"].high == pytest.approx(3e-15)
    assert d["rows2"].kind == "int" and (d["rows2"].low, d["rows2"].high) == (8, 32)
    assert d["eval.calibration"].target == "eval" and d["eval.calibration"].key == "calibration"
    assert [(o.metric, o.direction) for o in s.objectives] == [("accuracy_worst", "maximize"),
                                                              ("analog_tops_per_watt", "maximize")]
    assert s.evaluation["first_last"] == "digital" and s.evaluation["images"] == 20
    assert s.characterize == {"vdd": 0.7, "mc": 2, "rows": 8, "storage": "ideal"}
    # the digest follows what results depend on, not the study settings
    assert sp.parse_space(TINY, "a").digest() == sp.parse_space(TINY.replace("trials = 2", "trials = 9"), "b").digest()
    assert sp.parse_space(TINY, "a").digest() != sp.parse_space(TINY.replace("mc = 2", "mc = 3"), "a").digest()


@pytest.mark.parametrize("edit, needle", [
    (("[space]", "[spaces]"), "unknown table [spaces]"),
    (('{ choices = ["50p", "100p"] }', '{ low = "100p", high = "50p" }'), "must be below high"),
    (('{ choices = ["50p", "100p"] }', '{ low = "10p", high = "50p", log = true, step = "10p" }'), "log needs"),
    (('{ choices = ["50p", "100p"] }', '{ low = "10p" }'), "give both low and high"),
    (('{ choices = ["50p", "100p"] }', '{ choices = [] }'), "non-empty list"),
    (('{ choices = ["50p", "100p"] }', '{ low = 1, high = 2, width = 3 }'), "unknown key 'width'"),
    (('"analog_tops_per_watt"', '"gops"'), "unknown metric 'gops'"),
    (('"analog_tops_per_watt"', '"accuracy_worst:max"'), "name a metric twice"),
    (('"analog_tops_per_watt"', '"tops_per_watt:best"'), "METRIC:max or METRIC:min"),
    (("trials = 2", "trials = 0"), "trials = 0"),
    (('sampler = "random"', 'sampler = "grid"'), "choose one of nsga2, tpe, random"),
    (("mc = 2", "mc = 2\nt_pulse = 1e-10"), "both fixed and in [space]"),
    (("images = 20", "images = 0"), "images = 0"),
    (("[space]", '[space]\n"eval.chips" = { choices = [1, 2] }'), "study setting"),
    (("vdd = 0.7", "vdd = [0.6, 0.7]"), "one value per point"),
    (("[space]", "[space]\nx = 3"), "write { low"),
    (("[study]", "[study"), "not valid TOML"),
])
def test_space_errors_are_one_line(edit, needle):
    with pytest.raises(ParameterError) as e:
        sp.parse_space(TINY.replace(*edit), "t.toml")
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_shipped_spaces_parse_and_name_real_parameters():
    for name in ("cim_column", "adc_sar"):
        s = sp.load_space(name)
        st.check_names(REGISTRY.for_kind(name), name,
                       list(s.characterize) + [d.name for d in s.dims if d.target == "characterize"])
    with pytest.raises(ParameterError, match="shipped space"):
        sp.load_space("no_such_space")


# ---- names -> recipe arguments --------------------------------------------------------------------------
def test_recipe_kwargs_nested_list_and_text_options():
    pdk = get("ptm16hp")
    adc = REGISTRY.for_kind("adc_sar")
    kw = st.recipe_kwargs(adc, "adc_sar", pdk, {"vdd": 0.7, "bits": 4, "c_unit": 2e-15,
                                                 "comparator_sizes.w_in": 512e-9, "comparator_sizes.l_in": 32e-9})
    from charz.blocks.comparator.netlist import ComparatorSizes

    base = ComparatorSizes.default(pdk)
    cs = kw["comparator_sizes"]
    assert (cs.w_in, cs.l_in) == (512e-9, 32e-9) and cs.w_tail == base.w_tail and cs.w_nl == base.w_nl
    assert kw["vdd"] == [0.7] and kw["bits"] == 4 and kw["c_unit"] == 2e-15
    col = REGISTRY.for_kind("cim_column")
    kw = st.recipe_kwargs(col, "cim_column", pdk, {"t_pulse": 6e-11, "size.w_rd": 1.28e-07, "storage": "ideal"})
    assert kw == {"t_pulse": "6e-11", "size": ["w_rd=1.28e-07"], "storage": "ideal"}
    for blk, kind, bad, needle in ((adc, "adc_sar", {"c_unitt": 1e-15}, "'c_unitt' is not a parameter of adc_sar"),
                                   (adc, "adc_sar", {"comparator_sizes.w_bogus": 1e-7}, "w_bogus"),
                                   (adc, "adc_sar", {"bits": 4.5}, "whole number"),
                                   (col, "cim_column", {"storage": "sram"}, "choose one of 6t, ideal")):
        with pytest.raises(ParameterError, match=needle):
            st.recipe_kwargs(blk, kind, pdk, bad)
    with pytest.raises(ParameterError, match="network backend reads"):
        st.lut_slot("comparator")


# ---- points in ngspice, the study, the report ----------------------------------------------------------
@pytest.fixture(scope="module")
def mnist_small():
    from charz.datasets import load

    try:
        return load("mnist", "test", limit=20), load("mnist", "train", limit=20)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"MNIST not found: {exc}")


def _ctx(tmp_path, space, data, calib):
    from charz.network.model_report import find_model

    return st.Context(space=space, block=REGISTRY.for_kind("cim_column"), kind="cim_column", pdk=get("ptm16hp"),
                      out=tmp_path, model=find_model("lenet5"), data=data, calib=calib,
                      sim=dict(executor=None, use_cache=True, progress=False, fit_check=False), log=lambda s: None)


def test_a_point_is_characterized_and_evaluated_on_its_own_lut(tmp_path, mnist_small):
    """A longer wordline pulse discharges the bitline longer: more charge per evaluation, so the analog
    layers spend more energy and reach fewer TOPS/W, on LUTs measured in ngspice for each point."""
    from charz.core.lut import LUT

    ctx = _ctx(tmp_path, sp.parse_space(TINY, "t"), *mnist_small)
    short = st.run_point(ctx, 0, {"t_pulse": 50e-12})
    long = st.run_point(ctx, 1, {"t_pulse": 100e-12})
    for rec, tp in ((short, 50e-12), (long, 100e-12)):
        lut = LUT.load(rec["lut"], block="cim_column")
        assert lut.axis("t_pulse").values.tolist() == [tp]
        assert lut.provenance["mc_samples"] == 2 and lut.conditions["storage"].startswith("ideal")
        assert rec["backend_options"]["lut"] == rec["lut"].removesuffix(".json")
        saved = tmp_path / "points" / f"{rec['number']:04d}" / "point.json"
        assert json.loads(saved.read_text())["lut"] == rec["lut"]
        m = rec["metrics"]
        assert 0 <= m["accuracy_worst"] <= m["accuracy"] <= 1 and m["area_um2"] is None
    es, el = short["energy_by_component_J"]["array"], long["energy_by_component_J"]["array"]
    assert 1.1 * es < el < 2 * es  # charge ~ pulse width, plus the fixed precharge and wordline edges
    assert long["metrics"]["analog_tops_per_watt"] < short["metrics"]["analog_tops_per_watt"]


def test_study_runs_resumes_refuses_and_reports(tmp_path, mnist_small, monkeypatch):
    from charz.cli import main

    space = tmp_path / "space.toml"
    space.write_text(TINY)
    out = tmp_path / "study"
    args = ["explore", "cim_column", "--space", str(space), "--model", "lenet5", "--dataset", "mnist",
            "--out", str(out), "--workers", "0", "--no-fit-check", "--quiet"]
    assert main(args) == 0
    pts = json.loads((out / "points.json").read_text())["points"]
    assert len(pts) == 2 and (out / "pareto.png").stat().st_size > 0
    # the front: no point of it is dominated by another point (both objectives are maximized)
    objs = np.array([p["objectives"] for p in pts])
    for p in pts:
        dominated = any((o >= p["objectives"]).all() and (o > p["objectives"]).any() for o in objs)
        assert p["pareto"] == (not dominated)
    assert all(Path(p["lut"]).is_file() and Path(p["lut"]).parent.parent == out / "points" for p in pts)
    # an existing study is not overwritten; a changed space is not mixed into it
    assert main(args) == 2
    changed = tmp_path / "changed.toml"
    changed.write_text(TINY.replace("mc = 2", "mc = 3"))
    assert main([a if a != str(space) else str(changed) for a in args] + ["--resume"]) == 2
    # a failed point is recorded and the search goes on
    real = st.run_point
    calls = []

    def flaky(ctx, number, values):
        calls.append(number)
        if len(calls) == 1:
            raise SimulationError("ngspice stopped (test)")
        return real(ctx, number, values)

    monkeypatch.setattr(st, "run_point", flaky)
    assert main(args + ["--resume", "--trials", "3"]) == 0
    d = json.loads((out / "points.json").read_text())
    assert len(d["points"]) == 3 and len(d["failed"]) == 1 and "ngspice stopped" in d["failed"][0]["error"]
    assert "## Failed points" in (out / "pareto.md").read_text()
    loaded = optuna.load_study(study_name=st.STUDY_NAME, storage=f"sqlite:///{out / st.DB_NAME}")
    assert len(loaded.trials) == 4 and loaded.user_attrs["block"] == "cim_column"
    assert main(["explore", "cim_column", "--space", str(space), "--model", "lenet5", "--dataset", "mnist",
                 "--out", str(tmp_path / "none"), "--report-only"]) == 2


def test_a_bad_name_stops_before_any_simulation(tmp_path, capsys):
    from charz.cli import main

    space = tmp_path / "space.toml"
    space.write_text(TINY.replace("rows = 8", "rows = 8\nc_unit = 1e-15"))
    assert main(["explore", "cim_column", "--space", str(space), "--model", "lenet5", "--dataset", "mnist",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "'c_unit' is not a parameter of cim_column" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
    space.write_text(TINY.replace("[eval]", "[eval]\nadc_bitz = 4"))
    assert main(["explore", "cim_column", "--space", str(space), "--model", "lenet5", "--dataset", "mnist",
                 "--out", str(tmp_path / "o")]) == 2
    assert "adc_bitz is not a backend option" in capsys.readouterr().err


def test_an_interrupted_study_keeps_its_points_and_says_how_to_resume(tmp_path, mnist_small, monkeypatch, capsys):
    from charz.cli import main

    space = tmp_path / "space.toml"
    space.write_text(TINY)
    out = tmp_path / "study"
    args = ["explore", "cim_column", "--space", str(space), "--model", "lenet5", "--dataset", "mnist",
            "--out", str(out), "--workers", "0", "--no-fit-check", "--quiet"]
    real = st.run_point

    def stop_second(ctx, number, values):
        if number == 1:
            raise KeyboardInterrupt
        return real(ctx, number, values)

    monkeypatch.setattr(st, "run_point", stop_second)
    assert main(args) == 130
    err = capsys.readouterr().err
    assert "add --resume to the same command" in err
    d = json.loads((out / "points.json").read_text())
    assert len(d["points"]) == 1 and d["failed"][0]["number"] == 1
    monkeypatch.setattr(st, "run_point", real)
    assert main(args + ["--resume"]) == 0
    assert len(json.loads((out / "points.json").read_text())["points"]) == 2


def test_td_mac_blocks_are_explored_through_the_backend_options_that_read_their_luts():
    from charz.network.engine import digits_split, evaluate_model, mlp_onnx
    from charz.network.mapping import default_mapping

    assert {"td_delay", "td_tdc", "td_acc", "adc_sar", "cim_column", "wht_column"} <= set(st.explorable())
    assert "td_arbiter" not in st.explorable() and "comparator" not in st.explorable()
    assert st.lut_slot("td_delay") == ("td_mac", "delay_lut") and st.lut_slot("td_acc") == ("td_mac", "acc_lut")
    _, _, xte, yte = digits_split()
    net = mlp_onnx()
    run = lambda **o: evaluate_model(net, xte[:40], yte[:40], default_mapping("td_mac", "same", **o), chips=1,  # noqa: E731
                                     references=False)
    a = run()
    b = run(delay_lut="lut/ptm16hp/td_delay4", tdc_lut="lut/ptm16hp/td_tdc", acc_lut="lut/ptm16hp/td_acc")
    assert a["accuracy_per_chip"] == b["accuracy_per_chip"] and a["energy_per_inference_J"] == b["energy_per_inference_J"]
    with pytest.raises(LUTError, match="a 'td_delay' table is needed"):
        run(delay_lut="lut/ptm16hp/td_tdc")
    with pytest.raises(ParameterError, match="need circuit = 'luts'"):
        run(circuit="ideal", delay_lut="lut/ptm16hp/td_delay4")


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")  # study.ask() stands in for the killed run
def test_a_killed_process_point_is_failed_by_the_heartbeat_and_the_study_goes_on(tmp_path, mnist_small,
                                                                                   monkeypatch):
    """A process killed in the middle of a point leaves it RUNNING in study.db with a heartbeat that stops; the
    next process that runs a point fails it (Optuna's stale-trial check) and completes the study."""
    from optuna.trial import TrialState

    from charz.cli import main

    monkeypatch.setattr(st, "HEARTBEAT_S", 1)
    monkeypatch.setattr(st, "GRACE_S", 2)
    space = tmp_path / "space.toml"
    space.write_text(TINY.replace("trials = 2", "trials = 1"))
    out = tmp_path / "study"
    args = ["explore", "cim_column", "--space", str(space), "--model", "lenet5", "--dataset", "mnist",
            "--out", str(out), "--workers", "0", "--no-fit-check", "--quiet"]
    assert main(args) == 0
    # what a SIGKILL leaves: a point asked for, its heartbeat recorded once, never told
    study = st.open_study(out, sp.parse_space(space.read_text(), str(space)), "cim_column", resume=True)
    killed = study.ask()
    study._storage.record_heartbeat(killed._trial_id)
    assert study.get_trials(deepcopy=False)[killed.number].state == TrialState.RUNNING
    import time

    time.sleep(3)
    assert main(args + ["--resume", "--trials", "2"]) == 0
    loaded = optuna.load_study(study_name=st.STUDY_NAME, storage=f"sqlite:///{out / st.DB_NAME}")
    states = [t.state for t in loaded.trials]
    assert states[killed.number] == TrialState.FAIL
    assert states.count(TrialState.COMPLETE) == 2 and TrialState.RUNNING not in states


def test_two_processes_share_one_study(tmp_path, mnist_small):
    """Two `charz explore --resume` processes on one --out: Optuna numbers their points, each point gets its own
    folder, and the study ends with at least the points asked for (both may finish one more)."""
    import subprocess
    import sys

    from charz.cli import main

    space = tmp_path / "space.toml"
    space.write_text(TINY.replace("trials = 2", "trials = 1").replace('t_pulse = { choices = ["50p", "100p"] }',
                                                                      't_pulse = { low = 40e-12, high = 120e-12 }'))
    out = tmp_path / "study"
    args = ["explore", "cim_column", "--space", str(space), "--model", "lenet5", "--dataset", "mnist",
            "--out", str(out), "--workers", "0", "--no-fit-check", "--quiet"]
    assert main(args) == 0
    cmd = [sys.executable, "-m", "charz.cli", *args, "--resume", "--trials", "4"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    loaded = optuna.load_study(study_name=st.STUDY_NAME, storage=f"sqlite:///{out / st.DB_NAME}")
    done = [t for t in loaded.trials if t.state.name == "COMPLETE"]
    assert 4 <= len(done) <= 5
    assert len({t.number for t in done}) == len(done)
    folders = sorted(p.name for p in (out / "points").iterdir())
    assert folders == sorted(f"{t.number:04d}" for t in loaded.trials if t.state.name == "COMPLETE")
    assert main(["explore", "cim_column", "--space", str(space), "--model", "lenet5", "--dataset", "mnist",
                 "--out", str(out), "--report-only"]) == 0
    assert len(json.loads((out / "points.json").read_text())["points"]) == len(done)
