"""Shared pytest set-up: small thread counts so the suite behaves the same on 2 cores."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
