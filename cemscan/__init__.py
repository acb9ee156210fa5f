"""cemscan: run long compliance scans on a node, answer only short requests."""

__version__ = "0.1.0"
