"""The error hierarchy of simlab: callers catch ``SimlabError`` to catch all of ours.

Messages follow one sentence shape: what (parameter, file, row), whose, the rule, and what was received,
e.g. ``"trades.csv line 1043, column 'price': expected a decimal number; found 'abc'"``.
"""


class SimlabError(Exception):
    """Base class of every error simlab raises on purpose."""


class DataError(SimlabError, ValueError):
    """Input data (a file, a row, an array) breaks the schema or the format's rules."""


class ParameterError(SimlabError, ValueError):
    """A parameter passed to a public function is outside its allowed range or type."""


class StoreError(SimlabError, OSError):
    """A data store is missing, incomplete or cannot be written."""
