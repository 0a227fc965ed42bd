"""The exception raised for every invalid data file, dataset option or noise input."""

from __future__ import annotations


class DataError(ValueError):
    """Invalid input to a loader, the splitter or a noise generator.

    A subclass of ValueError, so callers that already catch ValueError for bad options keep
    working. The message names the bad value and what to do about it.
    """
