"""Bodies a hostile or broken upstream sends (issue 15): bytes that are not UTF-8 are a quarantine
with the reason, not a silent U+FFFD; a huge unmapped field is cut in the stored raw payload and
the cut is recorded there."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import adapters.http.client as http_client
from connector.pull import pull
from connector.pull.jsonsafe import CAPPED_KEY
from connector.store.models import Invoice, Partner, Quarantine
from sandbox.server import SandboxServer
from tests.pull.conftest import MakeCtx, sandbox_settings
from tests.pull.scenarios import consio

BAD_BYTES_MARK = "BADBYTESMARK"
HUGE = 200_000


def test_invalid_utf8_is_quarantined_and_a_huge_field_is_capped(
    engine: Engine, database_url: str, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = consio()
    world["partnerstack"]["partnerships"][1]["company_name"] = f"Caf{BAD_BYTES_MARK}"
    world["stripe"]["invoices"][0]["metadata"] = {"notes": "x" * HUGE}
    real = http_client.decode_body
    # the sandbox speaks JSON, always valid UTF-8; put the bytes a broken upstream sends on the wire
    monkeypatch.setattr(http_client, "decode_body",
                        lambda content: real(content.replace(BAD_BYTES_MARK.encode(), b"\xe9\xff")))
    with SandboxServer(world) as srv:
        ctx = make_ctx(sandbox_settings(srv, database_url, http={"max_field_chars": 1000}))
        stats = pull(ctx)
    bob_key = world["partnerstack"]["partnerships"][1]["key"]
    with Session(engine) as session:
        quarantined = {(q.source, q.source_id): q.error for q in session.scalars(select(Quarantine))}
        partners = set(session.scalars(select(Partner.key)))
        invoice = session.get(Invoice, world["stripe"]["invoices"][0]["id"])
    assert quarantined == {
        ("partnerstack.partnerships", bob_key): "invalid UTF-8 in the response body at company_name"}
    assert bob_key not in partners and len(partners) == 1
    assert stats["partnerstack.partnerships"].quarantined == 1
    assert invoice is not None
    notes = invoice.raw["metadata"]["notes"]
    assert notes == "x" * 1000
    assert invoice.raw[CAPPED_KEY] == {"max_field_chars": 1000, "fields": {"metadata.notes": HUGE}}
    assert invoice.amount_paid == 108000  # the mapped columns are the invoice's own


def test_quote_free_run_check_agrees_with_the_regex_it_replaces() -> None:
    """`has_quote_free_run` answers exactly what `[^"]{length,}` found, at every length and position
    (runs at the start, the end, between quotes, one short of the length, and no quote at all)."""
    import random
    import re

    rng = random.Random(20)
    for _ in range(3_000):
        length = rng.choice([1, 2, 3, 5, 8, 13, 64, 257])
        n = rng.randrange(0, 3 * length + 8)
        quote_share = rng.choice([0.0, 0.01, 0.1, 0.5, 0.9])
        text = "".join('"' if rng.random() < quote_share else "a" for _ in range(n))
        expected = re.search(f'[^"]{{{length},}}', text) is not None
        assert http_client.has_quote_free_run(text, length) is expected, (length, text)
    body = '{"data":[' + ",".join(f'{{"id":"in_{i}","note":"{"x" * 300}"}}' for i in range(50)) + "]}"
    assert http_client.has_quote_free_run(body, 300) is True
    assert http_client.has_quote_free_run(body, 301) is False
    assert http_client.json_text_is_clean(body, 299) is False
    assert http_client.json_text_is_clean(body, 300) is True
