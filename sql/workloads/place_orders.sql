-- Workload: customers placing orders in the demo shop (sql/demo), one transaction per checkout.
--
--   aurora-lite shell DIR -f sql/workloads/place_orders.sql
--
-- Needs the demo schema and data. Each checkout inserts an order (status and quantity take
-- their DEFAULTs where not given), copies the current prices into its lines with
-- INSERT ... SELECT, takes the items out of stock, and commits. One checkout is abandoned and
-- rolled back; then the shop ships every paid order with one UPDATE. Order ids continue from
-- the largest one, so the script can be run again.

-- Before.
SELECT (SELECT count(*) FROM orders) AS orders, sum(stock) AS items_in_stock FROM products;

-- Customer 7's basket: two copies of a book and a kite (quantity DEFAULT 1).
BEGIN;
INSERT INTO orders (id, customer_id, placed_at, note)
    SELECT max(id) + 1, 7, now(), 'workload' FROM orders;
INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price)
    SELECT (SELECT max(id) FROM orders), 1, id, 2, price FROM products WHERE sku = 'BK-101';
INSERT INTO order_lines (order_id, line_no, product_id, unit_price)
    SELECT (SELECT max(id) FROM orders), 2, id, price FROM products WHERE sku = 'TY-102';
UPDATE products SET stock = stock - 2 WHERE sku = 'BK-101';
UPDATE products SET stock = stock - 1 WHERE sku = 'TY-102';
COMMIT;

-- A kitchen order with a 10% discount on every line, paid at once.
BEGIN;
INSERT INTO orders (id, customer_id, placed_at, status, note)
    SELECT max(id) + 1, 12, now(), 'paid', 'workload' FROM orders;
INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price)
    SELECT (SELECT max(id) FROM orders), 1, id, 1, round(CAST(price * 0.9 AS NUMERIC), 2)
    FROM products WHERE sku = 'KT-101';
INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price)
    SELECT (SELECT max(id) FROM orders), 2, id, 3, round(CAST(price * 0.9 AS NUMERIC), 2)
    FROM products WHERE sku = 'KT-105';
UPDATE products SET stock = stock - 1 WHERE sku = 'KT-101';
UPDATE products SET stock = stock - 3 WHERE sku = 'KT-105';
COMMIT;

-- An abandoned checkout: ROLLBACK leaves no order, no line and the stock untouched.
BEGIN;
INSERT INTO orders (id, customer_id, placed_at, note)
    SELECT max(id) + 1, 3, now(), 'abandoned' FROM orders;
INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price)
    SELECT (SELECT max(id) FROM orders), 1, id, 5, price FROM products WHERE sku = 'GD-101';
UPDATE products SET stock = stock - 5 WHERE sku = 'GD-101';
ROLLBACK;

-- A download for customer 3 (no city given); downloads keep their stock figure.
BEGIN;
INSERT INTO orders (id, customer_id, placed_at, note)
    SELECT max(id) + 1, 3, now(), 'workload' FROM orders;
INSERT INTO order_lines (order_id, line_no, product_id, unit_price)
    SELECT (SELECT max(id) FROM orders), 1, id, price FROM products WHERE sku = 'DL-103';
COMMIT;

-- The warehouse ships everything that is paid.
UPDATE orders SET status = 'shipped' WHERE status = 'paid';

-- After: the new orders and what they cost.
SELECT t.order_id, c.name, t.status, t.line_count, t.items,
       round(CAST(t.total AS NUMERIC), 2) AS total
FROM order_totals t JOIN orders o ON o.id = t.order_id JOIN customers c ON c.id = t.customer_id
WHERE o.note = 'workload'
ORDER BY t.order_id;

SELECT count(*) AS orders FROM orders;
SELECT status, count(*) AS orders FROM orders GROUP BY status ORDER BY status;
SELECT sku, stock FROM products WHERE sku IN ('BK-101', 'TY-102', 'KT-101', 'KT-105', 'GD-101')
ORDER BY sku;
