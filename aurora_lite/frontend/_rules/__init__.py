"""Optimizer rules, one per module; ``_planner`` applies them in this order:

* ``subqueries``   - subqueries in a block's expressions are planned; the outer columns
                     they read become parameters of their plans.
* ``column_pruning`` - the columns each block reads, so table scans decode only those.
* ``pushdown``     - WHERE/ON conjuncts go to the lowest join unit that can evaluate them.
* ``access_path``  - per table: primary-key lookup, primary-key range, index range (index-only
                     when the index holds every column read) or full scan, from the
                     pushed-down conjuncts, the columns' extents and the wanted order.
* ``hashed_lookup`` - in a correlated subquery, a full scan filtered by equality with outer
                     values becomes a hash table built once per execution.
* ``sort_elision`` - whether a scan's key order already is the ORDER BY order.
* ``join_order``   - greedy join order that never makes a cartesian product while a join
                     predicate is available; hash join for equality, nested loop otherwise.
"""
