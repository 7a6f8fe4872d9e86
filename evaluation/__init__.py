"""Evaluation and training tooling (not shipped in the wheel): question files, grouped CV, fitting."""
