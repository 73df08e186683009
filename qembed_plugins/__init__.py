"""qembed's first-party plugins.

Every built-in component lives here and reaches the core only through the
``qembed`` entry-point group declared in qembed's ``pyproject.toml``, exactly as a
third-party plugin does.
"""
