"""Values of 1 MB and more through SQL: TEXT and BYTEA in overflow pages (issue 2, part 6).

A 16 KB page holds a cell of at most ~4 KB, so these values live in chains of overflow pages.
They must come back byte for byte in the same session, after a commit, and after the database
is closed and opened again (pages rebuilt by storage from redo); replacing and deleting them
must leave the other rows intact, and a rolled-back one must leave nothing.
"""

from __future__ import annotations

import random

import pytest

import aurora_lite

MB = 1 << 20


def _text(rng: random.Random, characters: int) -> str:
    # Multi-byte characters too, so chunk boundaries fall inside UTF-8 sequences.
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 \u00e9\u00df\u20ac\u4e2d\U0001f600"
    return "".join(rng.choices(alphabet, k=characters))


@pytest.fixture
def values():
    rng = random.Random(20240229)
    return {"text": _text(rng, MB), "blob": rng.randbytes(MB + 12345)}


def test_one_megabyte_text_and_bytea_survive_a_reopen(tmp_path, values):
    directory = str(tmp_path / "db")
    text, blob = values["text"], values["blob"]
    assert len(text.encode()) > MB and len(blob) > MB
    with aurora_lite.connect(directory, storage="local") as connection:
        cursor = connection.cursor()
        cursor.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, raw BYTEA, "
                       "note TEXT)")
        cursor.execute("INSERT INTO docs VALUES (1, 'small', NULL, 'before')")
        cursor.execute("INSERT INTO docs VALUES (?, ?, ?, ?)",
                       (2, text, aurora_lite.Binary(blob), "big"))
        cursor.execute("INSERT INTO docs VALUES (3, 'small', ?, 'after')", (b"\x00\x01",))
        # Read back inside the writing transaction, before the commit.
        cursor.execute("SELECT body, raw FROM docs WHERE id = 2")
        assert cursor.fetchone() == (text, blob)
        connection.commit()
        cursor.execute("SELECT length(body), octet_length(body) FROM docs WHERE id = 2")
        assert cursor.fetchone() == (len(text), len(text.encode()))

    with aurora_lite.connect(directory, storage="local") as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT id, body, raw, note FROM docs ORDER BY id")
        rows = cursor.fetchall()
        assert [row[0] for row in rows] == [1, 2, 3]
        assert rows[1][1] == text                      # compared whole: no truncation
        assert rows[1][2] == blob and type(rows[1][2]) is bytes
        assert rows[0] == (1, "small", None, "before")
        assert rows[2] == (3, "small", b"\x00\x01", "after")
        # Replace the big values (with each other's size class swapped) and commit.
        cursor.execute("UPDATE docs SET body = 'now small', raw = ? WHERE id = 2",
                       (blob[:1000],))
        cursor.execute("UPDATE docs SET body = ? WHERE id = 1", (text,))
        connection.commit()

    with aurora_lite.connect(directory, storage="local") as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT id, body, raw FROM docs ORDER BY id")
        assert cursor.fetchall() == [(1, text, None), (2, "now small", blob[:1000]),
                                     (3, "small", b"\x00\x01")]
        # A rolled-back 1 MB insert leaves nothing behind.
        cursor.execute("INSERT INTO docs VALUES (4, ?, ?, 'gone')", (text, blob))
        connection.rollback()
        cursor.execute("DELETE FROM docs WHERE id = 1")
        connection.commit()

    with aurora_lite.connect(directory, storage="local") as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT id, length(body) FROM docs ORDER BY id")
        assert cursor.fetchall() == [(2, len("now small")), (3, len("small"))]
