"""Errors raised by the data layer, with messages that name the bad value."""


class PermissionDenied(PermissionError):
    """The signed-in account has no right to change (or see) this row."""


class NotFound(LookupError):
    """No row has the given id."""


class DuplicateError(ValueError):
    """A value that must be unique (username, patient code, study name...) is already used."""


class ConflictError(RuntimeError):
    """Someone else changed the row since it was read: reload and try again."""
