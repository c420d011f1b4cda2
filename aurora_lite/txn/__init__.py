"""Transactions: sessions, read points, statement atomicity, commit = wait for VDL.

Public surface: ``Database`` (one per data directory; ``Database.open``), ``Session`` (one per
connection; implements the engine API the SQL layers use), and the protocols of that API
(``ReadView``, ``TableAccess``; ``SessionProtocol`` is the abstract form of ``Session``).
"""

from aurora_lite.txn._api import ReadView, TableAccess
from aurora_lite.txn._api import Session as SessionProtocol
from aurora_lite.txn._database import Database
from aurora_lite.txn._session import Session

__all__ = ["Database", "Session", "SessionProtocol", "ReadView", "TableAccess"]
