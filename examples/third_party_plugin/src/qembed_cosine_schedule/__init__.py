"""An example third-party qembed plugin: the ``cosine_ramp`` schedule, the ``focal`` loss and a lifecycle logger."""
