"""Honest accounting: one cost ledger for models and compute per root session, a record
of every request that left the machine, and the data policy (local-only, private paths).

Modules: ``accountant`` (budget and spend), ``accounted_model`` (every model call through
it), ``compute_meter`` (job forecasts and actuals), ``cost_ledger`` and ``egress_log``
(the records), ``private_filter`` (private rows out of prompts), ``session_accounts``
(wiring per session), ``report`` and ``commands`` (``intern cost``, ``intern egress``).
The outbound gate itself is :mod:`openintern.egress` (below every HTTP client).
"""
