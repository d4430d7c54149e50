"""mitheory: closed forms, known-MI distributions, Taylor/Isserlis surrogates, symbolic derivations,
the approximation-error report and the ``mitheory`` command line."""
