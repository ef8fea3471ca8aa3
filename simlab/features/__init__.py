"""Order-flow features computed from events and books, returned as xarray."""
