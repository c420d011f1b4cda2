"""SCRAM-SHA-256 against RFC 7677's example, both ends against each other, the verifier text
form, SASLprep, and the failure cases (wrong password, unknown user, tampered messages)."""

from __future__ import annotations

import base64

import pytest

from aurora_lite.dbapi._pg import (
    AuthenticationFailed, ScramClient, ScramProtocolError, ScramServer, Verifier,
)
from aurora_lite.dbapi._pg._scram import saslprep

# RFC 7677, section 3: user "user", password "pencil".
RFC_SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
RFC_CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO"
RFC_SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
RFC_CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
RFC_SERVER_FIRST = (b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                    b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
RFC_CLIENT_FINAL = (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
RFC_SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
MOCK_KEY = b"k" * 32


def rfc_verifier() -> Verifier:
    return Verifier.from_password("pencil", salt=RFC_SALT, iterations=4096)


def test_client_reproduces_rfc_7677():
    client = ScramClient("pencil", user="user", nonce=RFC_CLIENT_NONCE)
    assert client.first() == RFC_CLIENT_FIRST
    assert client.final(RFC_SERVER_FIRST) == RFC_CLIENT_FINAL
    client.verify(RFC_SERVER_FINAL)


def test_server_reproduces_rfc_7677():
    server = ScramServer("user", rfc_verifier(), mock_key=MOCK_KEY, nonce=RFC_SERVER_NONCE)
    assert server.first(RFC_CLIENT_FIRST) == RFC_SERVER_FIRST
    assert server.final(RFC_CLIENT_FINAL) == RFC_SERVER_FINAL


def test_verifier_text_form_round_trips_and_holds_no_password():
    verifier = Verifier.from_password("correct horse", iterations=1000)
    text = verifier.to_text()
    assert text.startswith("SCRAM-SHA-256$1000:")
    assert "correct" not in text and "horse" not in text
    assert Verifier.parse(text) == verifier
    assert verifier.check_password("correct horse")
    assert not verifier.check_password("correct horse ")
    # Two verifiers of one password differ (fresh salt each time).
    assert Verifier.from_password("correct horse").to_text() != \
        Verifier.from_password("correct horse").to_text()


@pytest.mark.parametrize("text", [
    "", "SCRAM-SHA-256$x:c2FsdA==$a:b", "MD5$4096:c2FsdA==$" + "A" * 44 + ":" + "A" * 44,
    "SCRAM-SHA-256$0:c2FsdA==$" + "A" * 43 + "=:" + "A" * 43 + "=",
    "SCRAM-SHA-256$4096:c2FsdA==$c2hvcnQ=:c2hvcnQ=",
])
def test_bad_verifier_text(text):
    with pytest.raises(ValueError):
        Verifier.parse(text)


def exchange(password: str, verifier: Verifier | None, user: str = "ann"):
    client = ScramClient(password)
    server = ScramServer(user, verifier, mock_key=MOCK_KEY)
    server_first = server.first(client.first())
    final = server.final(client.final(server_first))
    client.verify(final)
    return server_first


def test_exchange_with_the_right_password():
    exchange("s3cret ✓", Verifier.from_password("s3cret ✓", iterations=256))


def test_wrong_password_fails_with_28p01():
    with pytest.raises(AuthenticationFailed) as caught:
        exchange("wrong", Verifier.from_password("right", iterations=256))
    assert caught.value.sqlstate == "28P01"
    assert "password authentication failed" in str(caught.value)


def test_unknown_user_fails_like_a_wrong_password_with_a_stable_salt():
    with pytest.raises(AuthenticationFailed) as unknown:
        exchange("anything", None, user="ghost")
    with pytest.raises(AuthenticationFailed) as wrong:
        exchange("anything", Verifier.from_password("x", iterations=4096), user="ghost")
    assert str(unknown.value) == str(wrong.value)
    salts = set()
    for _ in range(2):
        server = ScramServer("ghost", None, mock_key=MOCK_KEY)
        first = server.first(ScramClient("a").first()).decode()
        salts.add(first.split(",s=")[1])
        assert first.endswith(",i=4096")
    assert len(salts) == 1


def test_client_rejects_a_server_that_does_not_know_the_verifier():
    client = ScramClient("pencil")
    impostor = ScramServer("ann", Verifier.from_password("other", iterations=256),
                           mock_key=MOCK_KEY)
    client.final(impostor.first(client.first()))
    with pytest.raises(AuthenticationFailed):
        client.verify(b"v=" + base64.b64encode(b"\x00" * 32))


@pytest.mark.parametrize("client_first", [
    b"p=tls-server-end-point,,n=,r=abc", b"x,,n=,r=abc", b"n,a=admin,n=,r=abc", b"n,,r=abc",
    b"n,,n=,r=", b"n,,n=,r=a,b", b"\xff\xfe", b"n,,n=,r=abc,m=ext",
])
def test_malformed_client_first(client_first):
    server = ScramServer("ann", None, mock_key=MOCK_KEY)
    with pytest.raises(ScramProtocolError) as caught:
        server.first(client_first)
    assert caught.value.sqlstate == "08P01"


def test_tampered_client_final():
    verifier = Verifier.from_password("pw", iterations=256)
    client = ScramClient("pw")
    server = ScramServer("ann", verifier, mock_key=MOCK_KEY)
    final = client.final(server.first(client.first()))
    for tampered in (final.replace(b"c=biws", b"c=eSws"),         # other channel binding
                     final.replace(b",r=", b",r=x"),               # other nonce
                     final.split(b",p=")[0],                       # no proof
                     final[:-8] + b"AAAAAAA=",                     # other proof
                     b"c=biws,r=x,p=!!!"):
        fresh = ScramServer("ann", verifier, mock_key=MOCK_KEY)
        fresh.first(client.first())
        with pytest.raises((ScramProtocolError, AuthenticationFailed)):
            fresh.final(tampered)
    with pytest.raises(ScramProtocolError):
        ScramServer("ann", verifier, mock_key=MOCK_KEY).final(final)  # no first message


def test_saslprep():
    assert saslprep("plain ascii") == "plain ascii"
    assert saslprep("I\u00adX") == "IX"                    # soft hyphen maps to nothing
    assert saslprep("a\u00a0b") == "a b"                   # non-ASCII space maps to space
    assert saslprep("\u2168") == "IX"                      # NFKC
    assert saslprep("a\u0007b") == "a\u0007b"              # prohibited: used as it is
    assert saslprep("\u0627\u0031") == "\u0627\u0031"      # bidi rule fails: used as it is
    verifier = Verifier.from_password("I\u00adX", iterations=64)
    assert verifier.check_password("IX")


def test_documented_verifier_example():
    import pathlib
    doc = pathlib.Path(__file__).resolve().parents[2] / "docs" / "protocols" / "auth.md"
    line = next(line for line in doc.read_text().splitlines()
                if line.startswith("user SCRAM-SHA-256$"))
    from aurora_lite.server._users import parse
    verifier = parse(line)["user"]
    assert verifier == rfc_verifier()
    assert verifier.check_password("pencil")
