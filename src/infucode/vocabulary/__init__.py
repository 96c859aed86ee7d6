"""Coders' vocabulary read into the model's terms: durations and clock ranges (durations.py)."""
