"""Importing this module warms matcalc up: it answers one request (:data:`.worker.WARM_REQUEST`).

The pool's forkserver imports it (the last of :data:`.worker.WARM_MODULES`), so that every
worker forked from it starts with the grammar's parser built and matcalc's first-use work
done, and a worker killed past the time limit is replaced in a few hundredths of a second.
Nothing else imports it.
"""

from __future__ import annotations

from .worker import WARM_REQUEST, answer

answer(WARM_REQUEST)
