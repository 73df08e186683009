"""An example third-party qembed plugin: the ``cosine_ramp`` schedule."""
