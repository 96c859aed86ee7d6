"""Dated, sourced reference data (codes, drugs, NCCI edits, rules, policies) and their loaders."""
