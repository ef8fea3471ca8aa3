"""scenarios layer of simlab."""
