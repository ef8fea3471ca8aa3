"""Realism scoring of stores against real data: the runner and its HTML report."""
