"""matcalc's version (the package, the command line and generated modules say it)."""

__version__ = "0.1.0"
