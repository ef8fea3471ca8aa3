"""Stress testing: crash episodes, their shocks and shapes, and the lab's models run through them."""
