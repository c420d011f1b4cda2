-- Example queries on the demo shop (load schema.sql and data.sql first; sql/README.md).
-- Read-only: run them as often as you like.
--   aurora-lite shell DIR -f sql/demo/queries.sql

-- 1. How big is the shop?
SELECT (SELECT count(*) FROM customers) AS customers,
       (SELECT count(*) FROM products) AS products,
       (SELECT count(*) FROM orders) AS orders,
       (SELECT count(*) FROM order_lines) AS order_lines;

-- 2. Orders by status (GROUP BY, ORDER BY an aggregate).
SELECT status, count(*) AS orders
FROM orders
GROUP BY status
ORDER BY orders DESC, status;

-- 3. The five best customers by money spent on orders that were not cancelled
--    (three-table join, GROUP BY, ORDER BY ... LIMIT).
SELECT c.id, c.name, count(DISTINCT o.id) AS orders,
       round(CAST(sum(l.quantity * l.unit_price) AS NUMERIC), 2) AS spent
FROM customers c
JOIN orders o ON o.customer_id = c.id
JOIN order_lines l ON l.order_id = o.id
WHERE o.status <> 'cancelled'
GROUP BY c.id, c.name
ORDER BY spent DESC
LIMIT 5;

-- 4. Revenue per category, only categories above 5000 euros (HAVING).
SELECT p.category, sum(l.quantity) AS items, round(CAST(sum(l.quantity * l.unit_price) AS NUMERIC), 2) AS revenue
FROM order_lines l
JOIN products p ON p.id = l.product_id
JOIN orders o ON o.id = l.order_id
WHERE o.status IN ('paid', 'shipped')
GROUP BY p.category
HAVING sum(l.quantity * l.unit_price) > 5000
ORDER BY revenue DESC;

-- 5. Customers who never ordered (LEFT JOIN ... IS NULL), and the same with NOT EXISTS.
SELECT c.id, c.name, coalesce(c.city, '(unknown)') AS city
FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
WHERE o.id IS NULL
ORDER BY c.id;

SELECT count(*) AS never_ordered
FROM customers c
WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id);

-- 6. Orders worth more than three times the average order (scalar subquery on a view).
SELECT order_id, customer_id, round(CAST(total AS NUMERIC), 2) AS total
FROM order_totals
WHERE total > 3 * (SELECT avg(total) FROM order_totals)
ORDER BY total DESC, order_id;

-- 7. Products that were never ordered (NOT IN a subquery), and stock that is running out.
SELECT id, sku, name, active
FROM products
WHERE id NOT IN (SELECT product_id FROM order_lines)
ORDER BY id;

SELECT sku, name, stock, CASE WHEN stock = 0 THEN 'sold out'
                              WHEN stock < 50 THEN 'low'
                              ELSE 'ok' END AS availability
FROM products
WHERE active AND stock < 50
ORDER BY stock, sku;

-- 8. Orders per month in the first half of 2025 (text functions on a TIMESTAMP cast to TEXT).
SELECT substr(CAST(placed_at AS TEXT), 1, 7) AS month, count(*) AS orders,
       sum(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled
FROM orders
GROUP BY substr(CAST(placed_at AS TEXT), 1, 7)
ORDER BY month;

-- 9. One week of orders: a range on the placed_at index; EXPLAIN shows the index range scan.
SELECT id, customer_id, placed_at, status
FROM orders
WHERE placed_at >= '2025-03-01' AND placed_at < '2025-03-08'
ORDER BY placed_at;

EXPLAIN SELECT id, customer_id, placed_at, status
FROM orders
WHERE placed_at >= '2025-03-01' AND placed_at < '2025-03-08';

-- 10. A primary-key lookup and a secondary-index lookup.
EXPLAIN SELECT * FROM customers WHERE id = 42;
EXPLAIN SELECT id, placed_at FROM orders WHERE customer_id = 7;

-- 11. Average basket per VIP flag, with an integer division and a modulo.
SELECT c.vip, count(*) AS orders, round(CAST(avg(t.total) AS NUMERIC), 2) AS avg_total,
       CAST(sum(t.items) AS INTEGER) / count(*) AS items_per_order,
       CAST(sum(t.items) AS INTEGER) % count(*) AS remainder
FROM order_totals t JOIN customers c ON c.id = t.customer_id
GROUP BY c.vip
ORDER BY c.vip;

-- 12. Set operations: cities with VIP customers or well-filled wallets (UNION; NULL is a
--     city "not given"), cities with both VIPs and customers who never ordered (INTERSECT), and
--     categories with nothing sold out (EXCEPT).
SELECT city FROM customers WHERE vip
UNION
SELECT city FROM customers c JOIN accounts a ON a.customer_id = c.id
WHERE a.balance_cents > 200000
ORDER BY city;

SELECT city FROM customers WHERE vip
INTERSECT
SELECT city FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)
ORDER BY city;

SELECT category FROM products
EXCEPT
SELECT category FROM products WHERE stock = 0
ORDER BY category;

-- 13. Wallets: total held, and the accounts whose customers never ordered.
SELECT count(*) AS accounts, sum(balance_cents) AS total_cents,
       min(balance_cents) AS smallest, max(balance_cents) AS largest
FROM accounts;

SELECT a.id, c.name, a.balance_cents / 100 AS euros, a.balance_cents % 100 AS cents
FROM accounts a JOIN customers c ON c.id = a.customer_id
WHERE c.id IN (SELECT id FROM customers EXCEPT SELECT customer_id FROM orders)
ORDER BY a.balance_cents DESC
LIMIT 5 OFFSET 0;

-- 14. Notes left on orders (NULL handling, text functions).
SELECT note, count(*) AS orders, upper(left(note, 1)) || substr(note, 2) AS shown
FROM orders
WHERE note IS NOT NULL
GROUP BY note
ORDER BY note;

-- 15. Each customer's latest order (correlated subquery), for customers in Oslo.
SELECT c.name, o.id, o.placed_at
FROM customers c JOIN orders o ON o.customer_id = c.id
WHERE c.city = 'Oslo'
  AND o.placed_at = (SELECT max(o2.placed_at) FROM orders o2 WHERE o2.customer_id = c.id)
ORDER BY c.name, o.id;
