"""The one base for every refusal a person should read.

A refusal is the answer to a request that cannot be granted as asked: an illegal move, an answer that breaks a
step's rule, a review or partnership that does not exist, a date out of range. ``str()`` is the message, written
for the person, and nothing was changed. Where a person's request ends (the command line, a flow answering a
coordinator, the gate) ``Refused`` is caught and shown; any other exception is a fault, and is never dressed up
as a polite refusal.

It stays a ``ValueError`` so that pydantic, reading an answer, reports a refusal raised in a validator as it
reports any other invalid value.
"""

from __future__ import annotations


class Refused(ValueError):
    """A request refused; ``str()`` is the message for the person who made it, and nothing was changed."""
