"""The pluggy markers of the ``qembed`` project.

Plugins decorate their hook functions with :data:`hookimpl`; qembed's own hook
specifications use :data:`hookspec`. Both are re-exported as ``qembed.hookimpl``
and ``qembed.hookspec``.
"""

import pluggy

PROJECT_NAME = "qembed"
ENTRY_POINT_GROUP = "qembed"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
