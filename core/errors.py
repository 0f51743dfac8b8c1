"""Errors with messages a person understands."""


class PhotoError(ValueError):
    """An upload that cannot be used as a photo (not an image, truncated, too large...)."""


class ModelNotInstalledError(RuntimeError):
    """No model is installed in the weights folder (manifest missing or empty)."""


class WeightsError(RuntimeError):
    """A weight file named by the manifest is missing, corrupt or does not match its checksum."""
