"""generators layer of simlab."""
