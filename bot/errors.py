"""The product's exception hierarchy.

Services raise these; adapters (actions, channels, the web app) translate them into
customer-facing messages once, and log the cause for operators.
"""


class SupportError(Exception):
    """Base class of every error the product raises on purpose."""


class ConfigurationError(SupportError):
    """A setting is missing or invalid; the message names the variable."""


class NotFound(SupportError):
    """A record the caller asked for does not exist (or is not theirs to see)."""


class NotAllowed(SupportError):
    """The request is understood but the business rules do not allow it."""
