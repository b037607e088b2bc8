"""Design-space exploration (``charz explore``): from generator parameters to a Pareto front of network
accuracy, energy and TOPS/W, every point characterized in ngspice (:mod:`.study`), the space a TOML file
(:mod:`.space`), the search Optuna's samplers with the study in SQLite, the front a table and a PNG
(:mod:`.plots`). Shipped spaces are in ``spaces/``."""
