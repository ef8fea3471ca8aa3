"""Readers of real market-data formats into the simlab schema."""
