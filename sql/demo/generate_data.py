"""Writes sql/demo/data.sql: the demo shop's rows, generated deterministically (fixed seed).

    python sql/demo/generate_data.py            # rewrites sql/demo/data.sql next to this file
    python sql/demo/generate_data.py --stdout   # prints it instead

The output is plain multi-row INSERT ... VALUES statements for the tables of schema.sql, so it
loads through the shell, psql or the DB-API alike. Only the standard library is used, and the
same seed always gives the same file. sql/tests/demo.slt holds a copy of schema.sql and data.sql
(tests/tools/test_project_slt.py checks that they agree): after changing either, paste the new
statements into demo.slt and recheck its expected results.
"""

from __future__ import annotations

import datetime
import pathlib
import random
import sys

SEED = 20250101
CUSTOMERS = 80
ORDERS = 240
LINES_PER_INSERT = 120

FIRST = ["Ada", "Ben", "Cleo", "Dmitri", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas",
         "Kemal", "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quinn", "Rosa", "Sven", "Tara"]
LAST = ["Almeida", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvat",
        "Ivanova", "Jensen", "Kowalski", "Lindqvist", "Moreau", "Novak", "O'Brien", "Petrov"]
CITIES = ["Lisbon", "Berlin", "Paris", "Madrid", "Vienna", "Oslo", "Dublin", "Prague"]

# (sku prefix, category, price range in euros, weight range in kg or None for downloads)
CATEGORIES = [
    ("BK", "books", (8, 45), (0.25, 1.5)),
    ("GM", "games", (15, 70), (0.25, 0.75)),
    ("KT", "kitchen", (5, 120), (0.5, 4.0)),
    ("GD", "garden", (4, 90), (0.5, 12.0)),
    ("TY", "toys", (6, 60), (0.25, 2.0)),
    ("DL", "downloads", (2, 25), None),
]
PRODUCT_NAMES = {
    "books": ["Atlas of Rivers", "Bread at Home", "Quiet Algorithms", "The Long Winter",
              "Sea Birds"],
    "games": ["Harbour Tycoon", "Card Castles", "Mountain Rally", "Tiny Kingdoms",
              "Night Train"],
    "kitchen": ["Cast Iron Pan", "Chef Knife", "Pepper Mill", "Tea Kettle", "Salad Bowl"],
    "garden": ["Watering Can", "Pruning Shears", "Seed Starter Kit", "Hose Reel", "Bird House"],
    "toys": ["Wooden Train", "Kite", "Puzzle Cube", "Plush Fox", "Marble Run"],
    "downloads": ["Jazz Sessions", "Rain Sounds", "Photo Presets", "Font Pack", "Audio Book"],
}
NOTES = ["gift wrap", "leave with neighbour", "customer's second address", "call before delivery"]


def _quote(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime.datetime):
        return "'" + value.strftime("%Y-%m-%d %H:%M:%S") + "'"
    if isinstance(value, datetime.date):
        return "'" + value.isoformat() + "'"
    return "'" + str(value).replace("'", "''") + "'"


def _insert(table: str, columns: list[str], rows: list[tuple]) -> str:
    values = ",\n".join("    (" + ", ".join(_quote(v) for v in row) + ")" for row in rows)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES\n{values};\n"


def generate() -> str:
    rng = random.Random(SEED)
    customers = []
    for cid in range(1, CUSTOMERS + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{cid}@example.com".lower().replace("'", "")
        city = None if rng.random() < 0.1 else rng.choice(CITIES)
        vip = rng.random() < 0.15
        signed_up = datetime.date(2023, 1, 1) + datetime.timedelta(days=rng.randrange(730))
        customers.append((cid, email, f"{first} {last}", city, vip, signed_up))

    products = []
    pid = 0
    for prefix, category, (low, high), weights in CATEGORIES:
        for number, name in enumerate(PRODUCT_NAMES[category], start=1):
            pid += 1
            price = round(round(rng.uniform(low, high)) - 0.01, 2)
            weight = None if weights is None else rng.randrange(
                int(weights[0] * 4), int(weights[1] * 4) + 1) / 4   # multiples of 0.25
            stock = 0 if rng.random() < 0.1 else rng.randrange(5, 200)
            active = rng.random() >= 0.07
            products.append((pid, f"{prefix}-{100 + number}", name, category, price, weight,
                             stock, active))
    orderable = [p for p in products if p[7]]

    orders, lines = [], []
    start = datetime.datetime(2025, 1, 1)
    span = int((datetime.datetime(2025, 7, 1) - start).total_seconds())
    stamps = sorted(start + datetime.timedelta(seconds=rng.randrange(span))
                    for _ in range(ORDERS))
    # Every fifth customer never orders; the others order with a skew towards low ids.
    buyers = [c[0] for c in customers if c[0] % 5 != 0]
    for oid, placed_at in enumerate(stamps, start=1001):
        customer_id = buyers[min(int(rng.expovariate(1 / 18)), len(buyers) - 1)]
        roll = rng.random()
        if placed_at >= datetime.datetime(2025, 6, 20):
            status = "new" if roll < 0.6 else "paid"
        else:
            status = "cancelled" if roll < 0.08 else "paid" if roll < 0.2 else "shipped"
        note = rng.choice(NOTES) if rng.random() < 0.12 else None
        orders.append((oid, customer_id, placed_at, status, note))
        for line_no, product in enumerate(rng.sample(orderable, rng.randint(1, 4)), start=1):
            quantity = rng.choice([1, 1, 1, 2, 2, 3, 5])
            unit_price = product[4] if rng.random() >= 0.1 else round(product[4] * 0.9, 2)
            lines.append((oid, line_no, product[0], quantity, unit_price))

    accounts = []
    for cid, _email, _name, _city, _vip, signed_up in customers:
        updated = None if rng.random() < 0.3 else start + datetime.timedelta(
            seconds=rng.randrange(span))
        accounts.append((1000 + cid, cid, rng.randrange(0, 250001), signed_up, updated))

    parts = ["-- Generated by sql/demo/generate_data.py (seed %d); do not edit by hand.\n" % SEED,
             "-- Load after schema.sql: %d customers, %d products, %d orders, %d order lines, "
             "%d accounts.\n" % (len(customers), len(products), len(orders), len(lines),
                                 len(accounts)),
             "\n",
             _insert("customers", ["id", "email", "name", "city", "vip", "signed_up"], customers),
             "\n",
             _insert("products", ["id", "sku", "name", "category", "price", "weight_kg", "stock",
                                  "active"], products),
             "\n",
             _insert("orders", ["id", "customer_id", "placed_at", "status", "note"], orders)]
    for first in range(0, len(lines), LINES_PER_INSERT):
        parts += ["\n", _insert("order_lines", ["order_id", "line_no", "product_id", "quantity",
                                                "unit_price"],
                                lines[first:first + LINES_PER_INSERT])]
    parts += ["\n", _insert("accounts", ["id", "customer_id", "balance_cents", "opened_on",
                                         "updated_at"], accounts)]
    return "".join(parts)


def main(argv: list[str]) -> int:
    text = generate()
    if "--stdout" in argv:
        sys.stdout.write(text)
    else:
        target = pathlib.Path(__file__).with_name("data.sql")
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
