"""`simlab demo`: the lab end to end on its embedded default; one module per step."""

from scenarios.demo.runner import Demo, run_demo

__all__ = ["Demo", "run_demo"]
