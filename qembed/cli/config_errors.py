"""Errors of a run config: one line naming the file and the section."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from qembed.cli.messages import one_line
from qembed.plugins import PluginComponentError, PluginError, PluginHookError
from qembed.training.config import ConfigError


class RunConfigError(ConfigError):
    """A run config that cannot be read or used; the message names the file and section."""


@contextmanager
def blame(source: str, section: str) -> Iterator[None]:
    """Re-raise a bad value's error, the Python API's own message, as a
    :class:`RunConfigError` naming the file and the section."""
    try:
        yield
    except (RunConfigError, PluginComponentError, PluginHookError):  # a plugin's failure is not the file's
        raise
    except (PluginError, ValueError, TypeError, KeyError, FileNotFoundError) as err:  # a file the config names
        raise RunConfigError(f"{source}: [{section}] {one_line(err)}") from err
