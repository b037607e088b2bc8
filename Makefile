# charz: `make demo` runs the whole flow, `make test` runs the tests. Both set up a fresh Debian
# machine first (ngspice from apt when missing, a Python virtual environment in .venv).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP  := $(VENV)/.charz-installed
PYTEST_ARGS ?=

.PHONY: setup ngspice datasets demo test test-all bench luts luts-adc luts-wht luts-td report netlists clean

setup: ngspice datasets $(STAMP)

# ngspice and the shared library PySpice loads (libngspice.so comes with libngspice0-dev)
ngspice:
	@if command -v ngspice >/dev/null 2>&1 && ldconfig -p | grep -q 'libngspice\.so '; then \
		echo "ngspice: $$(command -v ngspice) and libngspice found"; \
	else \
		echo "installing ngspice and libngspice0-dev with apt-get"; \
		$(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y ngspice libngspice0-dev; \
	fi

# Fashion-MNIST from Debian: the four IDX gzip files in /usr/share/datasets/fashion-mnist (`charz data` lists it;
# MNIST and CIFAR-10 are found on CHARZ_DATA_PATH or ../shared/datasets, see README "Datasets")
datasets:
	@if [ -d /usr/share/datasets/fashion-mnist ]; then \
		echo "fashion-mnist: /usr/share/datasets/fashion-mnist found"; \
	else \
		echo "installing dataset-fashion-mnist with apt-get"; \
		$(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y dataset-fashion-mnist; \
	fi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all]'
	@touch $(STAMP)

demo: setup
	$(BIN)/charz demo

test: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/bench_engine.py
	$(BIN)/python bench/bench_mc_batch.py
	$(BIN)/python bench/bench_network.py
	$(BIN)/python bench/bench_digitizer.py
	$(BIN)/python bench/bench_wht.py --lut lut/ptm16hp/wht16
	$(BIN)/python bench/bench_wht_spice.py
	$(BIN)/python bench/bench_td_mac.py
	$(BIN)/python bench/bench_executor.py
	$(BIN)/python bench/bench_column_storage.py
	$(BIN)/python bench/bench_explore.py
	$(BIN)/python bench/bench_tstep.py --mc 2 --factors 1.5,2,4 --workers 2

# the default LUTs committed in lut/ (about 15 minutes on 2 cores)
luts: setup
	$(BIN)/charz characterize bitcell6t --pdk ptm16hp --vdd 0.6:0.8:3 --temp 0,27,85 --mc 100 --force -o lut/ptm16hp/bitcell6t
	$(BIN)/charz characterize bitcell8t --pdk ptm16hp --vdd 0.6:0.8:3 --temp 0,27,85 --mc 100 --force -o lut/ptm16hp/bitcell8t
	$(BIN)/charz characterize cim_column --pdk ptm16hp --vdd 0.6:0.8:3 --temp 27,85 --t-pulse 50p,100p --mc 100 --force -o lut/ptm16hp/cim_column
	$(BIN)/charz characterize comparator --pdk ptm16hp --vdd 0.6:0.8:3 --temp 0,27,85 --mc 50 --seed 1 --force -o lut/ptm16hp/comparator
	$(BIN)/charz characterize cam_sram --pdk ptm16hp --vdd 0.7,0.75,0.8 --bits 16 --mc 32 --seed 1 --force -o lut/ptm16hp/cam_sram16
	$(BIN)/charz characterize cam_mtj --pdk ptm16hp --vdd 0.8 --bits 3 --mc 16 --seed 1 --force -o lut/ptm16hp/cam_mtj
	$(BIN)/charz characterize dcim_add --pdk ptm16hp --vdd 0.8 --word-bits 8 --mc 16 --seed 1 --force -o lut/ptm16hp/dcim_add8

# the converter LUTs committed in lut/ (the report reads them: charz report digitizers; see lut/README.md for times)
luts-adc: setup
	for k in adc_sar adc_flash; do \
		$(BIN)/charz characterize $$k --pdk ptm16hp --bits 5 --mc 8 --seed 1 --steps-per-lsb 4 --force -o lut/ptm16hp/$${k}5 || exit 1; done
	for k in adc_mi_sar adc_hybrid; do \
		$(BIN)/charz characterize $$k --pdk ptm16hp --bits 5 --mc 4 --seed 1 --steps-per-lsb 4 --force -o lut/ptm16hp/$${k}5 || exit 1; done
	for b in 3 4; do for k in adc_sar adc_flash adc_mi_sar adc_hybrid; do \
		$(BIN)/charz characterize $$k --pdk ptm16hp --bits $$b --mc 4 --seed 1 --steps-per-lsb 2 --force -o lut/ptm16hp/$${k}$$b || exit 1; done; done
	$(BIN)/charz characterize adc_sar --pdk ptm16hp --bits 6 --mc 4 --seed 1 --steps-per-lsb 2 --force -o lut/ptm16hp/adc_sar6
	for k in adc_mi_sar adc_hybrid; do \
		$(BIN)/charz characterize $$k --pdk ptm16hp --bits 6 --steps-per-lsb 2 --force -o lut/ptm16hp/$${k}6 || exit 1; done
	$(BIN)/charz characterize comparator --pdk ptm16hp --vdd 0.7,0.8 --mc 20 --seed 1 --trim-bits 4 --force -o lut/ptm16hp/comparator_trim
	$(BIN)/charz characterize comparator --pdk ptm65bulk --mc 50 --seed 1 --force -o lut/ptm65bulk/comparator
	for k in adc_sar adc_flash adc_mi_sar adc_hybrid; do \
		$(BIN)/charz characterize $$k --pdk ptm65bulk --bits 5 --steps-per-lsb 4 --force -o lut/ptm65bulk/$${k}5 || exit 1; done

# WHT crossbar columns (lut/README.md lists what each took); the seed is the CLI default (1)
luts-wht: setup
	$(BIN)/charz characterize wht_column --vdd 0.6,0.7,0.8,0.9 --mc 16 --t-pulse 60p --force -o lut/ptm16hp/wht16
	$(BIN)/charz characterize wht_column --vdd 0.6,0.7,0.8,0.9 --mc 16 --t-pulse 60p --sign-only --force -o lut/ptm16hp/wht16_sign
	$(BIN)/charz characterize wht_column --vdd 0.8 --mc 8 --rows 32 --force -o lut/ptm16hp/wht32
	$(BIN)/charz characterize wht_column --pdk ptm22hp --vdd 0.8 --mc 8 --force -o lut/ptm22hp/wht16
	$(BIN)/charz characterize wht_column --vdd 0.8 --mc 2 --rows 64 --force -o lut/ptm16hp/wht64
	$(BIN)/charz characterize wht_column --vdd 0.7,0.8,0.9 --temp 0,27,85 --t-pulse 40p,60p,80p --force -o lut/ptm16hp/wht16_corners

# time-domain FP8 MAC (lut/README.md lists what each took)
luts-td: setup
	$(BIN)/charz characterize td_delay --bits 4 --vdd 0.6,0.7,0.8,0.9 --mc 8 --force -o lut/ptm16hp/td_delay4
	$(BIN)/charz characterize td_delay --vdd 0.8 --bias-trim 0.8,0.825,0.85,0.875,0.9,0.95,1.0 --mc 16 --seed 1 --t-step 2p --force -o lut/ptm16hp/td_delay4_trim
	$(BIN)/charz characterize td_tdc --vdd 0.6,0.7,0.8,0.9 --mc 8 --force -o lut/ptm16hp/td_tdc
	$(BIN)/charz characterize td_acc --vdd 0.6,0.7,0.8,0.9 --temp 0,27,85 --force -o lut/ptm16hp/td_acc
	$(BIN)/charz characterize td_arbiter --vdd 0.6,0.7,0.8,0.9 --temp 0,27,85 --mc 16 --force -o lut/ptm16hp/td_arbiter

report: setup
	$(BIN)/charz report digitizers --pdk ptm16hp --bits 5
	$(BIN)/charz report digitizers --pdk ptm65bulk --bits 5 --no-network --out out/report_digitizers_ptm65bulk

netlists: setup
	$(BIN)/charz netlist --pdk ptm16hp --out netlists

clean:
	rm -rf out .pytest_cache
