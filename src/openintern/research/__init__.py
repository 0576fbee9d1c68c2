"""The experiment ledger: runs with lineage, snapshots, metrics and statistics.

Importing this package registers the ledger tables on the store's ``Base``.
"""

from openintern.research import models as _models  # noqa: F401  (registers the tables)
from openintern.research.ledger import ExperimentRecord, Ledger, LedgerError

__all__ = ["ExperimentRecord", "Ledger", "LedgerError"]
