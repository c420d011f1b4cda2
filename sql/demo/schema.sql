-- The demo database: a small online shop whose customers also hold a wallet account.
--
--   customers   one row per customer (UNIQUE email, a DEFAULT, NULL cities)
--   products    the catalogue (UNIQUE sku, secondary index on category)
--   orders      one row per order (secondary indexes on customer_id and placed_at)
--   order_lines the lines of each order (composite primary key)
--   accounts    one wallet per customer, balances in cents (sql/workloads/bank_transfers.sql)
--   transfers   the ledger of money moved between accounts (empty until a workload runs)
--   order_totals (view) one row per order with its line count and total
--
-- Load it with the data (sql/README.md):
--   aurora-lite shell DIR -f sql/demo/schema.sql -f sql/demo/data.sql
--
-- aurora_lite has no FOREIGN KEY or CHECK constraints (they are rejected), so the references
-- below are documented in comments only; the data respects them.

CREATE TABLE customers (
    id          INTEGER PRIMARY KEY,
    email       VARCHAR(64) NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    city        TEXT,                                  -- NULL: not given
    vip         BOOLEAN NOT NULL DEFAULT FALSE,
    signed_up   DATE NOT NULL
);

CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    sku         VARCHAR(12) NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    category    TEXT NOT NULL,
    price       DOUBLE PRECISION NOT NULL,             -- in euros
    weight_kg   REAL,                                  -- NULL for downloads
    stock       INTEGER NOT NULL DEFAULT 0,
    active      BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE INDEX products_category ON products (category);

CREATE TABLE orders (
    id          BIGINT PRIMARY KEY,
    customer_id INTEGER NOT NULL,                      -- customers.id
    placed_at   TIMESTAMP NOT NULL,
    status      VARCHAR(10) NOT NULL DEFAULT 'new',    -- new, paid, shipped, cancelled
    note        TEXT
);

CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_placed_at ON orders (placed_at);

CREATE TABLE order_lines (
    order_id    BIGINT NOT NULL,                       -- orders.id
    line_no     INTEGER NOT NULL,
    product_id  INTEGER NOT NULL,                      -- products.id
    quantity    INTEGER NOT NULL DEFAULT 1,
    unit_price  DOUBLE PRECISION NOT NULL,             -- the price paid, after any discount
    PRIMARY KEY (order_id, line_no)
);

CREATE INDEX order_lines_product ON order_lines (product_id);

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    customer_id   INTEGER NOT NULL UNIQUE,             -- customers.id
    balance_cents BIGINT NOT NULL DEFAULT 0,
    opened_on     DATE NOT NULL,
    updated_at    TIMESTAMP                            -- NULL: never changed since opening
);

CREATE TABLE transfers (
    id            BIGINT PRIMARY KEY,
    from_account  INTEGER NOT NULL,                    -- accounts.id
    to_account    INTEGER NOT NULL,                    -- accounts.id
    amount_cents  BIGINT NOT NULL,
    made_at       TIMESTAMP NOT NULL,
    memo          VARCHAR(40)
);

CREATE VIEW order_totals AS
    SELECT o.id AS order_id, o.customer_id, o.status, o.placed_at,
           count(*) AS line_count, sum(l.quantity) AS items,
           sum(l.quantity * l.unit_price) AS total
    FROM orders o JOIN order_lines l ON l.order_id = o.id
    GROUP BY o.id, o.customer_id, o.status, o.placed_at;
