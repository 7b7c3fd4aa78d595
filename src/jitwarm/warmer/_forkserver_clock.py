"""Imported last by warm's fork server: ``DONE_AT`` is when its imports were done, which every
worker forked from it inherits (with the spawn start method: when the worker imported it)."""

import time

DONE_AT = time.time()
