"""6T and 8T SRAM bitcell testbenches.

Every testbench is a pure function of a frozen :class:`BitcellParams`: the same parameters give
byte-identical SPICE text. The cells themselves come from :mod:`charz.netlist.cells` (flat device
names such as ``mpd1_0``, so Monte Carlo can ``alter`` each transistor); this module only adds
sources, loads and the analysis.

Testbenches (the key is the name used in file names and LUT provenance):

``hold``
    Hold butterfly, WL = 0 (8T: RWL = 0, RBL = VDD). The feedback loop is broken by instantiating the
    cell twice: in copy ``a`` the node ``qb`` is driven by the sweep source ``vsweep`` and ``qa`` is
    the output of half-cell 1 (pu1/pd1/ax1); in copy ``b`` the node ``q`` is driven by the same source
    and ``qbb`` is the output of half-cell 2 (pu2/pd2/ax2). One ``.dc`` sweep of ``vsweep`` from 0 to
    VDD gives both voltage-transfer curves; the halves of each copy that drive the forced node do not
    affect the output, so each copy only stands in for one half of the same physical cell (Monte Carlo
    applies the same per-role mismatch to both copies).
``read``
    Read butterfly. 6T: WL = VDD with BL = BLB = VDD (the read-disturb condition). 8T: the cell is read
    through its decoupled port, so the read condition is WL = 0, RWL = VDD, RBL = VDD; the read port
    only loads ``q`` with a gate, so the 8T read SNM equals its hold SNM to within gate leakage. That
    is what this testbench measures and what ``read_snm`` reports for 8T (the 6T-core WL-on figure is
    not how an 8T cell is read).
``write``
    Write margin, word-line sweep. The cell holds q = VDD (``.nodeset`` at WL = 0), BL = 0 and
    BLB = VDD are driven as for writing a 0, and ``.dc`` sweeps WL from 0 up to VDD. The write margin
    is VDD minus the WL voltage at which the cell flips (q falls below qb): the larger, the easier the
    write; a cell that does not flip with WL at VDD has margin 0 (write failure). The sweep starts in
    hold, where every bistable cell keeps its value; the BL-sweep variant would start in the read
    condition (WL on, BL at VDD), which Monte Carlo cells with a collapsed read SNM cannot hold.
``iread``
    Read current, ``.op``. 6T: q = 0 stored, WL = VDD, BL = BLB = VDD; the current drawn from BL
    flows through ax1 and pd1. 8T: q = VDD stored, RWL = VDD, RBL = VDD, WL = 0; the current drawn
    from RBL flows through the read port (ra, rd).
``leak``
    Standby leakage per cell, ``.op``. Two copies of the cell in hold (one storing 0, one storing 1)
    share VDD, BL, BLB (8T: RBL too), all at VDD, word lines at 0. Leakage per cell is the total
    current drawn from the VDD-level sources divided by two (the average over both stored values).
``energy``
    Read energy, ``.tran`` over one read cycle. The bit line(s) (6T: BL and BLB; 8T: RBL) carry a
    load ``c_bl`` and a PMOS precharge device gated by ``pcb``. At t = 0 everything is precharged;
    precharge turns off, the (R)WL pulse of width ``t_wl`` discharges the bit line through the cell
    (6T stores q = 0, 8T stores q = VDD: the discharging case), then precharge restores it. The
    energy is the charge drawn from VDD (cell and precharge) times VDD plus the energy the (R)WL
    driver delivers, over the whole cycle, minus the standby power at t = 0 times the cycle length
    (leakage is characterized separately, and the read energy then does not depend on ``t_pre``).
    The precharge-gate driver is peripheral and not counted.
"""

from __future__ import annotations

import dataclasses
import math

from ...core.errors import ParameterError
from ...core.params import Choice, Instance, Params, param, positive
from ...core.pdk import PDK, describe, get
from ...netlist.cells import CellSizes, cell_6t, cell_8t
from ...netlist.spice import PDK_NAME, TEMP, VDD, Device, Netlist, mos, num, pdk_of

CELLS = ("6t", "8t")
TESTBENCHES = ("hold", "read", "write", "iread", "leak", "energy")


@dataclasses.dataclass(frozen=True)
class BitcellParams(Params):
    """Everything a bitcell testbench depends on. ``None`` fields are resolved to per-PDK defaults
    when the object is made, so a params object always holds explicit values."""

    PDK_BOUND = True

    cell: str = param("6t", Choice(CELLS, noun="bitcell"), 'cell kind: "6t" or "8t" (6T core plus a decoupled 2-transistor read port)')
    pdk: str = param("ptm16hp", PDK_NAME, "PDK name from the manifest (`charz pdk list`)")
    vdd: float | None = param(None, VDD, "supply (cell, bit-line precharge, word-line high); None = the PDK's nominal VDD; at most 1.5x nominal")
    temp: float = param(27.0, TEMP, "temperature")
    sizes: CellSizes | None = param(None, Instance(CellSizes), "transistor widths and lengths; None = CellSizes.default of the PDK")
    c_bl: float | None = param(None, positive(10e-12, "F"), "bit-line load of the read-energy testbench (per bit line); None = 128 rows x 0.125 fF x node / 16 nm")
    """Bit-line load capacitance in F for the read-energy testbench (per bit line: BL and BLB of the
    6T, RBL of the 8T). Default: 128 rows x 0.125 fF x (node / 16 nm), i.e. 16 fF at 16 nm and 65 fF
    at 65 nm (a 128-row sub-array whose bit-line capacitance per cell scales with the cell pitch)."""
    t_wl: float | None = param(None, positive(100e-9, "s"), "word-line (8T: read word-line) pulse width, 50 % to 50 %; None = 100 ps")
    t_edge: float | None = param(None, positive(10e-9, "s"), "rise and fall time of the word-line and precharge pulses; None = 10 ps")
    t_pre: float | None = param(None, positive(100e-9, "s"), "precharge (restore) time after the word-line pulse; None = 0.5 ns")
    """Precharge (restore) time in s after the word-line pulse, included in the read cycle.
    Default 0.5 ns: with the default c_bl and w_pre the bit line is back within 0.2 mV of VDD at the
    end of the cycle (16 to 130 nm)."""
    w_pre: float | None = param(None, positive(100e-6, "m"), "width of each PMOS precharge device (length Lmin); None = 16 x Lmin")
    dc_step: float = param(2e-3, positive(None, "V"), "step of the DC sweeps (butterflies, write margin), 0.1 mV .. 0.02 VDD")
    """Step in V of the DC sweeps (butterflies, write margin). SNM and write margin are resolved to
    well below / about one step; 2 mV is a good trade-off between accuracy and speed."""
    t_step: float | None = param(None, positive(None, "s"), "transient print/maximum step of the read-energy run; None = t_edge / 5")

    def check(self):
        """Per-PDK defaults; VDD against the card; t_edge < t_wl; dc_step in 0.1 mV .. 0.02 VDD; t_step <= t_edge."""
        pdk = pdk_of(self)
        vdd = pdk.vdd_nom if self.vdd is None else pdk.check_vdd(self.vdd)
        sizes = self.sizes if self.sizes is not None else CellSizes.default(pdk)
        sizes.check(pdk)  # ranges relative to Lmin (CellSizes docstring)
        defaults = {
            "c_bl": 128 * 0.125e-15 * pdk.node_nm / 16.0,
            "t_wl": 100e-12,
            "t_edge": 10e-12,
            "t_pre": 0.5e-9,
            "w_pre": 16 * pdk.lmin,
        }
        vals = {k: float(d if getattr(self, k) is None else getattr(self, k)) for k, d in defaults.items()}
        if vals["t_edge"] >= vals["t_wl"]:
            raise ParameterError(
                f"t_edge ({vals['t_edge']:g} s) must be shorter than the word-line pulse t_wl ({vals['t_wl']:g} s)")
        step = self.dc_step
        if not (1e-4 <= step <= 0.02 * vdd):
            raise ParameterError(
                f"dc_step = {step:g} V is out of range: use 0.1 mV .. {0.02 * vdd * 1e3:g} mV (default 2 mV)")
        t_step = vals["t_edge"] / 5 if self.t_step is None else self.t_step
        if t_step > vals["t_edge"]:
            raise ParameterError(f"t_step ({t_step:g} s) must not exceed t_edge ({vals['t_edge']:g} s)")
        self._set(vdd=float(vdd), sizes=sizes, t_step=float(t_step), **vals)

    @property
    def block(self) -> str:
        """Block name of the decks: ``bitcell6t`` or ``bitcell8t``."""
        return f"bitcell{self.cell}"

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """(name, value) pairs with numbers formatted by num(), for netlist headers; the cell sizes by
        their bare names, after ``temp``."""
        base = super().pairs()
        flat = [kv for kv in base if not kv[0].startswith("sizes.")]
        sizes = [(k[len("sizes."):], v) for k, v in base if k.startswith("sizes.")]
        i = [k for k, _ in flat].index("temp") + 1
        return tuple(flat[:i] + sizes + flat[i:])


# ---------------------------------------------------------------------------------------------------
# helpers


def _pdk(p: BitcellParams) -> PDK:
    return get(p.pdk)


def _cell(p: BitcellParams, pdk: PDK, i: str, q: str, qb: str, wl: str = "wl", rwl: str = "rwl",
          rbl: str = "rbl", bl: str = "bl", blb: str = "blb"):
    if p.cell == "8t":
        return cell_8t(i, q, qb, bl, blb, wl, rwl, rbl, "vdd", p.sizes, pdk)
    return cell_6t(i, q, qb, bl, blb, wl, "vdd", p.sizes, pdk)


def _dc(name: str, node: str, value: float) -> str:
    return f"{name} {node} 0 {num(value)}"


def _netlist(p: BitcellParams, pdk: PDK, tb: str, what: str, body: list[str], analysis: str,
             save: tuple[str, ...], devices: list[Device]) -> Netlist:
    return Netlist(
        block=p.block,
        title=f"{p.block} {what}, {p.pdk}, vdd={num(p.vdd)} V, temp={num(p.temp)} degC",
        params=(("testbench", tb),) + p.pairs(),
        body=tuple(body),
        card=pdk.path,
        card_sha256=pdk.sha256,
        analysis=analysis,
        save=save,
        temp=p.temp,
        devices=tuple(devices),
    )


def _sweep_step(p: BitcellParams) -> float:
    """The largest step <= dc_step that divides VDD into whole steps (the sweep ends exactly at VDD)."""
    n = max(1, math.ceil(p.vdd / p.dc_step - 1e-9))
    return p.vdd / n


def _butterfly(p: BitcellParams, tb: str) -> Netlist:
    pdk = _pdk(p)
    v = p.vdd
    read = tb == "read"
    la, da = _cell(p, pdk, "a", "qa", "u")
    lb, db = _cell(p, pdk, "b", "u", "qbb")
    body = ["* copy a: qb forced by vsweep, half-cell 1 drives qa", *la,
            "* copy b: q forced by vsweep, half-cell 2 drives qbb", *lb,
            _dc("vvdd", "vdd", v), _dc("vbl", "bl", v), _dc("vblb", "blb", v)]
    if p.cell == "8t":
        body += [_dc("vwl", "wl", 0.0), _dc("vrwl", "rwl", v if read else 0.0), _dc("vrbl", "rbl", v)]
    else:
        body += [_dc("vwl", "wl", v if read else 0.0)]
    body += ["vsweep u 0 0"]
    what = "read butterfly" if read else "hold butterfly"
    return _netlist(p, pdk, tb, what, body, f".dc vsweep 0 {num(v)} {num(_sweep_step(p))}",
                    ("v-sweep", "v(qa)", "v(qbb)"), da + db)


def hold_butterfly(p: BitcellParams) -> Netlist:
    """Hold butterfly: both half-cell transfer curves in one ``.dc`` sweep (WL off). Saves
    ``v-sweep`` (the forced input), ``v(qa)`` (q vs qb) and ``v(qbb)`` (qb vs q)."""
    return _butterfly(p, "hold")


def read_butterfly(p: BitcellParams) -> Netlist:
    """Read butterfly (6T: WL on, BLs at VDD; 8T: RWL on, RBL at VDD, WL off). Same vectors as hold."""
    return _butterfly(p, "read")


def write_sweep(p: BitcellParams) -> Netlist:
    """Write margin: WL swept from 0 to VDD with BL = 0 and BLB = VDD, the cell starting at q = VDD.
    Saves ``v-sweep`` (WL voltage), ``v(q)``, ``v(qb)``."""
    pdk = _pdk(p)
    v = p.vdd
    lines, devs = _cell(p, pdk, "0", "q", "qb")
    body = [*lines, _dc("vvdd", "vdd", v), _dc("vbl", "bl", 0.0), _dc("vblb", "blb", v), "vwl wl 0 0"]
    if p.cell == "8t":
        body += [_dc("vrwl", "rwl", 0.0), _dc("vrbl", "rbl", v)]
    body += [f".nodeset v(q)={num(v)} v(qb)=0"]
    return _netlist(p, pdk, "write", "write margin (WL sweep)", body, f".dc vwl 0 {num(v)} {num(_sweep_step(p))}",
                    ("v-sweep", "v(q)", "v(qb)"), devs)


def read_current(p: BitcellParams) -> Netlist:
    """Read current (``.op``): 6T from BL through ax1/pd1 (q = 0); 8T from RBL through the read port
    (q = VDD). Saves the bit-line source current and both storage nodes."""
    pdk = _pdk(p)
    v = p.vdd
    lines, devs = _cell(p, pdk, "0", "q", "qb")
    body = [*lines, _dc("vvdd", "vdd", v), _dc("vbl", "bl", v), _dc("vblb", "blb", v)]
    if p.cell == "8t":
        body += [_dc("vwl", "wl", 0.0), _dc("vrwl", "rwl", v), _dc("vrbl", "rbl", v),
                 f".nodeset v(q)={num(v)} v(qb)=0"]
        save = ("i(vrbl)", "v(q)", "v(qb)")
    else:
        body += [_dc("vwl", "wl", v), f".nodeset v(q)=0 v(qb)={num(v)}"]
        save = ("i(vbl)", "v(q)", "v(qb)")
    return _netlist(p, pdk, "iread", "read current", body, ".op", save, devs)


def standby_leakage(p: BitcellParams) -> Netlist:
    """Hold leakage (``.op``) of two copies of the cell, one storing 0 (``q0``) and one storing 1
    (``q1``), on shared supplies. Saves every VDD-level source current and the storage nodes."""
    pdk = _pdk(p)
    v = p.vdd
    l0, d0 = _cell(p, pdk, "s0", "q0", "qb0")
    l1, d1 = _cell(p, pdk, "s1", "q1", "qb1")
    body = [*l0, *l1, _dc("vvdd", "vdd", v), _dc("vbl", "bl", v), _dc("vblb", "blb", v), _dc("vwl", "wl", 0.0)]
    save = ["i(vvdd)", "i(vbl)", "i(vblb)"]
    if p.cell == "8t":
        body += [_dc("vrwl", "rwl", 0.0), _dc("vrbl", "rbl", v)]
        save.append("i(vrbl)")
    body += [f".nodeset v(q0)=0 v(qb0)={num(v)} v(q1)={num(v)} v(qb1)=0"]
    save += ["v(q0)", "v(qb0)", "v(q1)", "v(qb1)"]
    return _netlist(p, pdk, "leak", "standby leakage", body, ".op", tuple(save), d0 + d1)


def energy_timing(p: BitcellParams) -> dict[str, float]:
    """Times (s) of the read cycle: the precharge gate starts rising (precharge turning off) at
    ``t_pc_off``; the (R)WL pulse crosses 50 % rising at ``t_wl_on`` and falling at ``t_wl_off``
    (= t_wl_on + t_wl); the precharge gate starts falling (restore) at ``t_pc_on``; the run ends at
    ``t_stop`` = t_pc_on + t_edge + t_pre. All edges take t_edge."""
    te = p.t_edge
    t_pc_off = 2 * te
    t_wl_on = t_pc_off + 2 * te
    t_wl_off = t_wl_on + p.t_wl  # 50 % to 50 % width = t_wl with equal edges
    t_pc_on = t_wl_off + 2 * te
    t_stop = t_pc_on + te + p.t_pre
    return {"t_pc_off": t_pc_off, "t_wl_on": t_wl_on, "t_wl_off": t_wl_off, "t_pc_on": t_pc_on, "t_stop": t_stop}


def _pwl(name: str, node: str, pts: list[tuple[float, float]]) -> str:
    return f"{name} {node} 0 pwl(" + " ".join(f"{num(t)} {num(x)}" for t, x in pts) + ")"


def read_energy(p: BitcellParams) -> Netlist:
    """One read cycle (``.tran``) with bit-line load ``c_bl``, PMOS precharge and a (R)WL pulse of
    width ``t_wl``. Saves ``time``, the VDD and (R)WL source currents, the (R)WL and bit-line voltages."""
    pdk = _pdk(p)
    v, te = p.vdd, p.t_edge
    t = energy_timing(p)
    pcb = _pwl("vpcb", "pcb", [(0.0, 0.0), (t["t_pc_off"], 0.0), (t["t_pc_off"] + te, v),
                               (t["t_pc_on"], v), (t["t_pc_on"] + te, 0.0)])
    wl_wave = [(0.0, 0.0), (t["t_wl_on"] - te / 2, 0.0), (t["t_wl_on"] + te / 2, v),
               (t["t_wl_off"] - te / 2, v), (t["t_wl_off"] + te / 2, 0.0)]
    lines, devs = _cell(p, pdk, "0", "q", "qb")
    body = [*lines, _dc("vvdd", "vdd", v), pcb]
    if p.cell == "8t":
        body += [_dc("vbl", "bl", v), _dc("vblb", "blb", v), _dc("vwl", "wl", 0.0), _pwl("vrwl", "rwl", wl_wave),
                 mos("mpre_rbl", "rbl", "pcb", "vdd", "vdd", pdk.pmos, p.w_pre, pdk.lmin),
                 f"crbl rbl 0 {num(p.c_bl)}", f".nodeset v(q)={num(v)} v(qb)=0 v(rbl)={num(v)}"]
        save = ("time", "i(vvdd)", "i(vrwl)", "v(rwl)", "v(rbl)", "v(q)", "v(qb)")
    else:
        body += [_pwl("vwl", "wl", wl_wave),
                 mos("mpre_bl", "bl", "pcb", "vdd", "vdd", pdk.pmos, p.w_pre, pdk.lmin),
                 mos("mpre_blb", "blb", "pcb", "vdd", "vdd", pdk.pmos, p.w_pre, pdk.lmin),
                 f"cbl bl 0 {num(p.c_bl)}", f"cblb blb 0 {num(p.c_bl)}",
                 f".nodeset v(q)=0 v(qb)={num(v)} v(bl)={num(v)} v(blb)={num(v)}"]
        save = ("time", "i(vvdd)", "i(vwl)", "v(wl)", "v(bl)", "v(q)", "v(qb)")
    analysis = f".tran {num(p.t_step)} {num(t['t_stop'])} 0 {num(p.t_step)}"
    return _netlist(p, pdk, "energy", "read energy", body, analysis, save, devs)


GENERATORS = {
    "hold": hold_butterfly,
    "read": read_butterfly,
    "write": write_sweep,
    "iread": read_current,
    "leak": standby_leakage,
    "energy": read_energy,
}


def netlists(p: BitcellParams) -> dict[str, Netlist]:
    """Every testbench of *p*, keyed by :data:`TESTBENCHES` name."""
    return {tb: GENERATORS[tb](p) for tb in TESTBENCHES}


def cell_devices(p: BitcellParams) -> tuple[Device, ...]:
    """The devices of one physical cell (index 0): the Monte Carlo draw is made over these, and each
    testbench instance of the same role (e.g. ``mpd1_a``, ``mpd1_s1``) gets the same value."""
    _, devs = _cell(p, describe(p.pdk), "0", "q", "qb")
    return tuple(devs)


def device_role(name: str) -> str:
    """``mpd1_a`` -> ``mpd1``: the transistor's role in the cell."""
    return name.rsplit("_", 1)[0]


def golden_netlists(pdk: PDK | str) -> dict[str, str]:
    """File name -> golden text of every bitcell testbench at the PDK's default parameters."""
    name = pdk if isinstance(pdk, str) else pdk.name
    out = {}
    for cell in CELLS:
        p = BitcellParams(cell=cell, pdk=name)
        for tb, nl in netlists(p).items():
            out[f"bitcell{cell}_{name}_{tb}.cir"] = nl.golden()
    return out
