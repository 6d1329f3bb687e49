"""The one error hierarchy of Audio Soup widgets.

Every error a user can meet derives from :class:`AudiosoupError`, carries a short
plain message and, where it helps, a machine-readable ``code``.
"""

from __future__ import annotations


class AudiosoupError(Exception):
    """Root of every error raised on purpose by this package."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The plain, one-line message for a user."""
        return str(self.args[0]) if self.args else self.code


class ConfigError(AudiosoupError):
    """A bad setting: an unusable database URL, a missing folder."""

    code = "config"


class StoreError(AudiosoupError):
    """The database could not be reached or refused an operation."""

    code = "store"


class NotFoundError(AudiosoupError):
    """A dataset, sample or label that does not exist."""

    code = "not_found"


class ValidationError(AudiosoupError):
    """A value from a user or a front end that is refused."""

    code = "invalid"


class ConflictError(AudiosoupError):
    """A stale edit: someone else changed the row since it was read.

    Attributes
    ----------
    field : str
        The edited field.
    mine, theirs : object
        The value this writer wanted, and the value now stored.
    """

    code = "conflict"

    def __init__(
        self, message: str, *, field: str, mine: object, theirs: object, theirs_by: str | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.mine = mine
        self.theirs = theirs
        self.theirs_by = theirs_by


class DecodeError(AudiosoupError):
    """An audio file that cannot be used; ``code`` is the skip reason."""

    code = "unreadable"


class FeatureError(AudiosoupError):
    """A feature that cannot be computed for this input."""

    code = "feature"


class RecipeError(ValidationError):
    """An augmentation recipe or transform step that is refused (one line, why)."""

    code = "recipe"
