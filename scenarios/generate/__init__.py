"""Experiments with the learned generators: held-out scoring of trained models side by side."""
