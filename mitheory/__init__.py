"""mitheory: closed forms, known-MI distributions, Taylor/Isserlis surrogates, symbolic derivations,
the approximation-error report and the ``mitheory`` command line."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mitheory")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
