"""simlab: synthetic market simulator and generative stress-testing lab (the kernel layer)."""

from simlab.errors import DataError, ParameterError, SimlabError

__version__ = "0.1.0"

__all__ = ["DataError", "ParameterError", "SimlabError", "__version__"]
