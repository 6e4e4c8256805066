"""The compiled core. There is no Python fallback: importing it requires the built extension."""
from jqgate._core import core  # noqa: F401
