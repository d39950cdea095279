"""The one exception the domain raises when a rule refuses a change."""
from __future__ import annotations


class RuleViolation(Exception):
    """A change that the product's rules refuse; `field` names the form field it belongs to."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field


class Conflict(RuleViolation):
    """A change that came too late: someone decided or ended the thing first (answered with 409)."""
