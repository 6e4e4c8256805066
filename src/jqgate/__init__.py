"""jqgate: Kong DataKit flows compiled to a static plan, run on a Cython core."""
__version__ = "0.1.0"
