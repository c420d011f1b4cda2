"""Catalog: schema objects and their persistence in the system B-tree.

Public surface: ``ColumnDef``, ``TableDef``, ``IndexDef``, ``ViewDef``, ``Catalog``.
"""

from aurora_lite.catalog._schema import Catalog, ColumnDef, IndexDef, TableDef, ViewDef

__all__ = ["Catalog", "ColumnDef", "IndexDef", "TableDef", "ViewDef"]
