"""idx-constrained: the ``constrained`` index type, which offers only the releases of its
bases that its ``constraints`` (pip constraints syntax, plus ``*``) allow."""

__version__ = "0.1.0"
