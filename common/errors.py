"""User errors the entrypoints report as one line (no traceback); importing this loads no framework."""


class DataError(ValueError):
    """The data directory or a data file is missing or unusable; the message says which."""


class ConfigError(ValueError):
    """A config file or flag value that cannot be used; the message names it."""
