"""Qualification: every reason code, in the table's order, and duplicate resolution."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from connector.rules.facts import Facts
from connector.rules.program import bundled_program_path, load_program
from connector.rules.qualification import Candidate, qualify
from connector.rules.records import PartnerRecord
from tests.rules.builders import World, decisions, run


def _consio_world() -> World:
    w = World()
    w.partner("part_ada", email="ada@lovelace.com", company_name="Lovelace Advisory LLC")
    w.partner("part_bob", email="bob@meyer.de", company_name="Meyer GmbH", group="elite")
    w.product("prod_p")
    w.price("price_p", "prod_p", 10000)
    return w


def _verdict(engine: Engine, program: str, key: str) -> tuple[str, str | None]:
    d = decisions(engine, program)[key]
    return d.decision, d.reason


def test_duplicate_is_decided_before_conversion(engine: Engine) -> None:
    """A later lead for the same company is `duplicate_lead` even if it never converted."""
    w = _consio_world()
    w.lead("lead_1", "ada", "2026-01-05", company_name="Acme Robotics Inc", email="a@acme.io")
    w.lead("lead_2", "bob", "2026-01-06", company_name="Unrelated name", email="b@ACME.io")
    w.save(engine)
    run(engine, "consio", "2026-06-01")
    assert _verdict(engine, "consio", "lead_1") == ("open", "not_converted")
    assert _verdict(engine, "consio", "lead_2") == ("rejected", "duplicate_lead")


def test_duplicate_ties_go_to_the_lower_key_and_any_identifier_matches(engine: Engine) -> None:
    w = _consio_world()
    w.lead("lead_b", "ada", "2026-01-05", company_name="Acme Robotics Inc", email="a@gmail.com")
    w.lead("lead_a", "bob", "2026-01-05", company_name="ACME Robotics", email="b@hotmail.com")
    w.lead("lead_c", "bob", "2026-01-07", company_name="Acme Robo", email="c@gmail.com")  # free-mail: no match
    w.save(engine)
    run(engine, "consio", "2026-06-01")
    assert _verdict(engine, "consio", "lead_a") == ("open", "not_converted")
    assert _verdict(engine, "consio", "lead_b") == ("rejected", "duplicate_lead")
    assert _verdict(engine, "consio", "lead_c") == ("open", "not_converted")


def test_billing_customer_id_identifies_the_company(engine: Engine) -> None:
    w = _consio_world()
    w.lead("lead_1", "ada", "2026-01-05", external_key="k1", company_name="One", email="x@one.io")
    w.referral("cust_1", "part_ada", "2026-01-06", customer_key="k1", provider_key="cus_X")
    w.referral("cust_2", "part_bob", "2026-01-07", provider_key="cus_X", name="Other", email="y@two.io")
    w.save(engine)
    run(engine, "consio", "2026-06-01")
    assert _verdict(engine, "consio", "lead_1") == ("qualified", None)
    assert _verdict(engine, "consio", "cust_2") == ("rejected", "duplicate_lead")
    assert "cust_1" not in decisions(engine, "consio")  # a lead points at it: not a submission itself


def test_test_record_comes_first(engine: Engine) -> None:
    w = _consio_world()
    w.lead("lead_1", "ada", "2026-01-05", external_key="k1", email="x@one.io")
    w.lead("lead_2", "bob", "2026-01-06", external_key="k2", email="y@one.io")
    w.referral("cust_2", "part_bob", "2026-01-06", customer_key="k2", provider_key="cus_2", test=True)
    w.save(engine)
    run(engine, "consio", "2026-06-01")
    assert _verdict(engine, "consio", "lead_2") == ("rejected", "test_record")  # not duplicate_lead


def test_existing_customer_needs_a_real_purchase_before_submission(engine: Engine) -> None:
    w = _consio_world()
    w.customer("cus_1")
    w.customer("cus_2")
    w.lead("lead_1", "ada", "2026-02-01", external_key="k1", email="x@one.io")
    w.referral("cust_1", "part_ada", "2026-02-02", customer_key="k1", provider_key="cus_1")
    w.invoice("in_old", "cus_1", "2026-01-01", paid_at="2026-01-02", lines=[("price_p", 10000)])
    w.lead("lead_2", "ada", "2026-02-01", external_key="k2", email="x@two.io")
    w.referral("cust_2", "part_ada", "2026-02-02", customer_key="k2", provider_key="cus_2")
    w.invoice("in_zero", "cus_2", "2026-01-01", paid_at="2026-01-02", lines=[("price_p", 0)])  # $0: not a purchase
    w.invoice("in_void", "cus_2", "2026-01-01", status="void", lines=[("price_p", 10000)])
    w.save(engine)
    run(engine, "consio", "2026-06-01")
    assert _verdict(engine, "consio", "lead_1") == ("rejected", "existing_customer")
    assert _verdict(engine, "consio", "lead_2") == ("qualified", None)


def test_self_referral_by_domain_or_name(engine: Engine) -> None:
    w = World()
    w.partner("part_n", email="n@nina.com", company_name="Nina Networks LLC")
    w.partner("part_g", email="g@gmail.com", company_name=None)
    w.lead("lead_dom", "n", "2026-01-01", email="boss@nina.com", company_name="Something")
    w.lead("lead_name", "n", "2026-01-02", email="x@other.com", company_name="NINA NETWORKS, Inc.")
    w.lead("lead_free", "g", "2026-01-03", email="friend@gmail.com", company_name="Friend Co")
    w.save(engine)
    run(engine, "netsource", "2026-06-01")
    assert _verdict(engine, "netsource", "lead_dom") == ("rejected", "self_referral")
    assert _verdict(engine, "netsource", "lead_name") == ("rejected", "self_referral")
    assert _verdict(engine, "netsource", "lead_free") == ("open", "not_converted")  # gmail is no one's domain


def test_connectus_referrer_rule_and_consent(engine: Engine) -> None:
    w = World()
    w.partner("part_c", referrer_relationship="customer")
    w.partner("part_e", referrer_relationship="employee_with_consent")
    w.partner("part_s", referrer_relationship="supplier")
    w.partner("part_n", referrer_relationship=None)
    w.lead("lead_c", "c", "2026-01-01", email="a@a.io")
    w.lead("lead_e", "e", "2026-01-01", email="b@b.io", consent=None)
    w.lead("lead_s", "s", "2026-01-01", email="c@c.io", consent=False)
    w.lead("lead_n", "n", "2026-01-01", email="d@d.io")
    w.save(engine)
    run(engine, "connectus", "2026-06-01")
    assert _verdict(engine, "connectus", "lead_c") == ("open", "not_converted")
    assert _verdict(engine, "connectus", "lead_e") == ("rejected", "no_consent")
    assert _verdict(engine, "connectus", "lead_s") == ("rejected", "partner_not_eligible")
    assert _verdict(engine, "connectus", "lead_n") == ("rejected", "partner_not_eligible")


def test_contract_window_exactly_sixty_days_is_inside(engine: Engine) -> None:
    w = World()
    w.partner("part_v")
    w.deal("deal_in", "v", "2026-01-01T08:00:00Z", amount=100, close_date="2026-03-02T08:00:00Z")
    w.deal("deal_late_in_day", "v", "2026-01-01T08:00:00Z", amount=100, close_date="2026-03-02T23:59:59Z")
    w.deal("deal_out", "v", "2026-01-01T23:00:00Z", amount=100, close_date="2026-03-03T00:00:00Z")
    w.deal("deal_open", "v", "2026-01-01", amount=100, stage="proposal")
    w.deal("deal_future", "v", "2026-01-01", amount=100, close_date="2026-07-01")
    w.save(engine)
    run(engine, "tech-consultant", "2026-06-01")
    assert _verdict(engine, "tech-consultant", "deal_in") == ("qualified", None)
    # calendar days: 1 Jan -> 2 Mar is 60 days whatever the time of day; 1 Jan 23:00 -> 3 Mar 00:00 is 61
    assert _verdict(engine, "tech-consultant", "deal_late_in_day") == ("qualified", None)
    assert _verdict(engine, "tech-consultant", "deal_out") == ("rejected", "contract_window_expired")
    assert _verdict(engine, "tech-consultant", "deal_open") == ("open", "not_converted")
    assert _verdict(engine, "tech-consultant", "deal_future") == ("open", "not_converted")  # signed after as-of


def test_unknown_partner_stays_open(engine: Engine) -> None:
    w = _consio_world()
    w.lead("lead_x", "nobody", "2026-01-01", email="a@a.io")
    w.save(engine)
    run(engine, "consio", "2026-06-01")
    assert _verdict(engine, "consio", "lead_x") == ("open", "partner_unknown")


def test_records_after_as_of_do_not_exist_yet(engine: Engine) -> None:
    w = _consio_world()
    w.lead("lead_late", "ada", "2026-07-01", email="a@a.io")
    w.save(engine)
    run(engine, "consio", "2026-06-01")
    assert "lead_late" not in decisions(engine, "consio")


def test_contract_window_counted_as_elapsed_time_when_the_program_says_so(engine: Engine) -> None:
    w = World()
    w.partner("part_v")
    w.deal("deal_in", "v", "2026-01-01T08:00:00Z", amount=100, close_date="2026-03-02T08:00:00Z")
    w.deal("deal_out", "v", "2026-01-01T08:00:00Z", amount=100, close_date="2026-03-02T08:00:01Z")
    w.save(engine)
    base = load_program(bundled_program_path("tech-consultant"))
    elapsed = base.model_copy(
        update={"qualification": base.qualification.model_copy(update={"contract_window_counting": "elapsed"})}
    )
    run(engine, elapsed, "2026-06-01")
    assert _verdict(engine, "tech-consultant", "deal_in") == ("qualified", None)
    assert _verdict(engine, "tech-consultant", "deal_out") == ("rejected", "contract_window_expired")


def test_a_lead_finds_the_last_customer_of_its_key_and_the_other_stays_a_submission(engine: Engine) -> None:
    """Two PartnerStack customers share the key a lead points at: the lead takes the last (by record key),
    as when the customers were held as a list; the other is a submission of its own (customers are
    now streamed into candidates, see `build_submissions`)."""
    w = _consio_world()
    w.lead("lead_1", "ada", "2026-01-05", external_key="k1", company_name="One", email="x@one.io")
    w.referral("cust_1", "part_bob", "2026-01-06", customer_key="k1", provider_key="cus_X", name="Two",
               email="y@two.io")  # fmt: skip
    w.referral("cust_2", "part_ada", "2026-01-06", customer_key="k1", provider_key="cus_Y", name="Three",
               email="z@three.io")  # fmt: skip
    w.save(engine)
    run(engine, "consio", "2026-06-01")
    got = {k: (d.customer_key, d.decision, d.reason) for k, d in decisions(engine, "consio").items()}
    assert got == {"lead_1": ("cust_2", "qualified", None), "cust_1": ("cust_1", "qualified", None)}


def _candidate(key: str, day: int, **ids: str) -> Candidate:
    return Candidate(
        key=key, type="lead", submitted_at=dt.datetime(2026, 1, day, tzinfo=dt.UTC), partner=_PARTNER,
        customer_key=None, referral_key=None, test=False, billing_customer_id=ids.get("billing"),
        domain=ids.get("domain"), company_name=ids.get("name"), consent=True,
    )  # fmt: skip


_PARTNER = PartnerRecord(*([None] * len(PartnerRecord._fields)))._replace(key="part_ada", tax_id_present=False)


def test_a_duplicate_names_the_earliest_submission_of_any_of_its_identifiers() -> None:
    """`qualify` finds what a take-back says earns instead while it judges: of the first holders of the
    duplicate's identifiers, the earliest (here the domain's, not the name's, and not the later holder
    of the same name)."""
    program = load_program(bundled_program_path("consio"))
    facts = Facts(as_of=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    verdicts = qualify(
        [
            _candidate("lead_b", 5, domain="acme.io"),
            _candidate("lead_a", 6, name="acme"),
            _candidate("lead_c", 7, domain="acme.io", name="acme", billing="cus_X"),
            _candidate("lead_d", 8, name="acme"),
            _candidate("lead_e", 9, billing="cus_X"),
        ],
        facts,
        program,
    )
    assert [(v.submission.key, v.decision, v.reason, v.earlier) for v in verdicts] == [
        ("lead_b", "open", "not_converted", None),
        ("lead_a", "open", "not_converted", None),
        ("lead_c", "rejected", "duplicate_lead", "lead_b"),
        ("lead_d", "rejected", "duplicate_lead", "lead_a"),
        ("lead_e", "rejected", "duplicate_lead", "lead_c"),
    ]


def test_qualify_refuses_candidates_out_of_submission_order() -> None:
    """Duplicates are judged in one walk in submission order, so an unsorted input would judge wrongly: refused."""
    program = load_program(bundled_program_path("consio"))
    facts = Facts(as_of=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    with pytest.raises(ValueError, match="lead_a comes before lead_b"):
        qualify([_candidate("lead_b", 6), _candidate("lead_a", 5)], facts, program)
