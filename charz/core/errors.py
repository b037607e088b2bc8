"""Errors a user can act on. The CLI prints them as one line (no traceback) and exits non-zero."""


class CharzError(Exception):
    """Base class: the message says what went wrong and what to do."""

    exit_code = 2


class PDKError(CharzError):
    """Unknown PDK, missing or altered model card."""


class ParameterError(CharzError, ValueError):
    """A block parameter, sweep axis or option is out of range."""


class NgspiceMissingError(CharzError):
    """ngspice or libngspice is not installed."""

    exit_code = 3


class SimulationError(CharzError):
    """ngspice failed: did not converge, timed out, or rejected the netlist."""

    exit_code = 4


class SimulationTimeout(SimulationError):
    """A run exceeded its time limit."""


class DeckError(SimulationError):
    """ngspice refused the deck itself (a missing include or model, a device parameter it calls fatal):
    deterministic, so it is reported with ngspice's own message and never retried."""


class LUTError(CharzError):
    """A LUT file is corrupt, of the wrong schema or kind, or does not match the PDK in use."""

    exit_code = 5


class DataError(CharzError):
    """A dataset is missing from the search path, in an unknown or malformed layout, or refused (a pickle, an
    unsafe archive member)."""

    exit_code = 6
