"""The `mdm` logger.

Library code logs through `logger` (one line per pipeline stage, with its counts and seconds)
and never configures handlers: the command line decides where the lines go and at what level,
and an application embedding mdm configures the `mdm` logger like any other.
"""

from __future__ import annotations

import logging

__all__ = ["logger"]

logger = logging.getLogger("mdm")
