"""Moved to ``summariser.llm.retry`` (with the rest of the transport policy).

Kept only for ``store/_base.py``'s ``from ..retrying import released`` until the store's owner
updates that import; new code imports ``released`` from ``summariser.llm.retry``.
"""

from .llm.retry import released

__all__ = ["released"]
