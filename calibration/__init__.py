"""calibration layer of simlab."""
