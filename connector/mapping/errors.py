"""The one error a payload raises when it fails its mapping.

It sits below every other mapping module (reading paths, converting values, the
generated row builders and the model all raise it), so none of them has to import
another just for the exception.
"""

from __future__ import annotations


class RecordError(ValueError):
    """A payload that fails its mapping: the record is quarantined with this reason."""
