"""Data shipped with gmscore (read with importlib.resources)."""
