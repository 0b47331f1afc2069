"""A referral program as data: the validated schema of `programs/*.toml` and its loader.

Every program the connector runs is one of these files; the rules engine only knows
reusable rule kinds (a basis, rates by group/band/tier, a period, gates …), so a seller
changes a number or a rule by editing the file, never the code. Numbers in the file are
read as `Decimal` (TOML floats never become binary floats), amounts configured in major
units (bonuses, value bands) are converted exactly with the currency's exponent.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connector.config import ConfigError
from connector.money import is_currency, minor_exponent

QualificationRule = Literal[
    "test_record",
    "partner_not_eligible",
    "no_consent",
    "existing_customer",
    "self_referral",
    "duplicate_lead",
    "contract_window_expired",
]
GateRule = Literal[
    "tax_form_missing", "bank_details_missing", "application_incomplete", "customer_past_due", "dispute_open"
]
# In programs.md's table order: the first failing check gives the reason.
QUALIFICATION_RULES: tuple[str, ...] = get_args(QualificationRule)
GATE_RULES: tuple[str, ...] = get_args(GateRule)
# Canonical `Partner` columns an application may be required to fill.
APPLICATION_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "company_name",
    "company_website",
    "city",
    "country",
    "business_type",
    "team_size",
    "number_of_clients",
    "referrer_relationship",
)



def _check_rate(v: Decimal) -> Decimal:
    if not Decimal(0) <= v <= Decimal(1):
        raise ValueError("must be between 0 and 1")
    return v


# A fraction: 0.20 is 20 %.
Rate = Annotated[Decimal, AfterValidator(_check_rate)]
Months = Annotated[int, Field(ge=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProgramInfo(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
    title: str = ""
    currency_default: str = "usd"

    @field_validator("currency_default")
    @classmethod
    def _known_currency(cls, v: str) -> str:
        v = v.lower()
        if not is_currency(v):
            raise ValueError(f"unknown currency {v!r}")
        return v


class Submissions(_Strict):
    """Which upstream records are referrals: leads, customers no lead points at, deals."""

    sources: list[Literal["leads", "customers", "deals"]] = Field(min_length=1)
    won_stage: str = "closed won"


class Qualification(_Strict):
    rules: list[QualificationRule] = Field(default_factory=list)
    eligible_referrer_relationships: list[str] = Field(default_factory=list)
    contract_window_days: int | None = Field(default=None, ge=0)
    # calendar_days: UTC signing date minus UTC submission date (what a person counts);
    # elapsed: the exact time between them (a deal signed 60 days and 1 second later is out)
    contract_window_counting: Literal["calendar_days", "elapsed"] = "calendar_days"
    extra_free_mail_domains: list[str] = Field(default_factory=list)
    extra_legal_suffixes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rule_needs(self) -> Qualification:
        if "partner_not_eligible" in self.rules and not self.eligible_referrer_relationships:
            raise ValueError("partner_not_eligible needs eligible_referrer_relationships")
        if "contract_window_expired" in self.rules and self.contract_window_days is None:
            raise ValueError("contract_window_expired needs contract_window_days")
        return self


class Commission(_Strict):
    """What a reward is computed on, and for how long.

    basis: `net_revenue` (per paid invoice, net of tax/excluded lines, with adjustments),
    `contract_value_12m` (one-off on the first subscription's 12-month value),
    `deal_value` (one-off on a won deal's amount).
    """

    basis: Literal["net_revenue", "contract_value_12m", "deal_value"]
    recurrence: Literal["recurring", "one_off"]
    period_months: dict[str, Months] = Field(default_factory=dict)  # by partner group slug
    default_period_months: int | None = Field(default=None, ge=1)  # None: no end
    excluded_categories: list[str] = Field(default_factory=list)
    earning_price_types: list[str] = Field(default_factory=list)  # empty: any price type earns
    paid_in_full: bool = False  # only invoices with amount_remaining = 0 earn
    marketing_costs: bool = False
    credit_note_amount: Literal["total_excluding_tax", "prorated_total"] = "total_excluding_tax"
    floor_at_zero: bool = True
    # a customer's rate and period come from the partner's group when its first entry is booked (the
    # connector records it); a partner moved to another group keeps them for customers booked before
    terms_at_first_booking: bool = False

    @model_validator(mode="after")
    def _basis_recurrence(self) -> Commission:
        one_off = self.basis in ("contract_value_12m", "deal_value")
        if one_off != (self.recurrence == "one_off"):
            raise ValueError(f"basis {self.basis} is {'one_off' if one_off else 'recurring'}")
        return self


class Band(_Strict):
    from_: Decimal = Field(alias="from", ge=0)  # major units, inclusive
    rate: Rate


class Tier(_Strict):
    name: str
    min_referrals: int = Field(ge=1)
    add: Rate  # added to the base rate (0.01 = one percentage point)


class Rates(_Strict):
    default: Rate | None = None
    by_group: dict[str, Rate] = Field(default_factory=dict)
    bands: list[Band] = Field(default_factory=list)
    tiers: list[Tier] = Field(default_factory=list)

    @field_validator("bands")
    @classmethod
    def _ascending_bands(cls, v: list[Band]) -> list[Band]:
        starts = [b.from_ for b in v]
        if starts != sorted(set(starts)):
            raise ValueError("bands must be in ascending order of `from`, without repeats")
        if v and starts[0] != 0:
            raise ValueError("the first band must start from 0")
        return v

    @field_validator("tiers")
    @classmethod
    def _ascending_tiers(cls, v: list[Tier]) -> list[Tier]:
        mins = [t.min_referrals for t in v]
        if mins != sorted(set(mins)):
            raise ValueError("tiers must be in ascending order of min_referrals, without repeats")
        return v


class ContractChange(_Strict):
    """After the original term, pay on min(original monthly amount, new amount)."""

    rule: Literal["min_of_original_and_new"] = "min_of_original_and_new"
    default_term_months: int = Field(default=12, ge=1)


class Margin(_Strict):
    min_gross_margin: Rate  # exactly this margin passes


class Payable(_Strict):
    """When an entry may be paid.

    `on_event`: as soon as its source event happened; `end_of_month_after_start`: on the
    last day (00:00 UTC) of the Nth calendar month after the contract start month;
    `after_first_payment`: once the client's first invoice with amount_paid > 0 is paid.
    """

    when: Literal["on_event", "end_of_month_after_start", "after_first_payment"] = "on_event"
    months_after_start: int = Field(default=0, ge=0, le=120)
    # A one-off reward follows its contract until its payable date; from then on what is booked stands
    # (later edits to the contract are not recomputed).
    final_once_payable: bool = False
    # A contract cancelled (`canceled_at`) before the payable date voids its one-off reward.
    void_if_cancelled_before_payable: bool = False


class Bonus(_Strict):
    over: Decimal = Field(ge=0)  # major units; the project value must be strictly greater
    amount: Decimal = Field(gt=0)  # major units


class Gates(_Strict):
    rules: list[GateRule] = Field(default_factory=list)
    required_application_fields: list[str] = Field(default_factory=list)

    @field_validator("required_application_fields")
    @classmethod
    def _known_fields(cls, v: list[str]) -> list[str]:
        for name in v:
            if name not in APPLICATION_FIELDS:
                raise ValueError(f"unknown application field {name!r} (known: {', '.join(APPLICATION_FIELDS)})")
        return v


class Program(_Strict):
    program: ProgramInfo
    submissions: Submissions
    qualification: Qualification = Qualification()
    commission: Commission
    rates: Rates
    contract_change: ContractChange | None = None
    margin: Margin | None = None
    payable: Payable = Payable()
    bonuses: list[Bonus] = Field(default_factory=list)
    gates: Gates = Gates()

    @property
    def name(self) -> str:
        return self.program.name

    @property
    def currency_default(self) -> str:
        return self.program.currency_default

    @field_validator("bonuses")
    @classmethod
    def _ascending_bonuses(cls, v: list[Bonus]) -> list[Bonus]:
        overs = [b.over for b in v]
        if overs != sorted(set(overs)):
            raise ValueError("bonuses must be in ascending order of `over`, without repeats")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Program:
        deal_based = self.commission.basis == "deal_value"
        if deal_based != ("deals" in self.submissions.sources):
            raise ValueError("commission.basis deal_value goes with submissions.sources = ['deals'] (and only it)")
        if self.rates.default is None and not self.rates.by_group and not self.rates.bands:
            raise ValueError("rates: set default, by_group or bands")
        if self.payable.when == "end_of_month_after_start" and self.commission.basis != "contract_value_12m":
            raise ValueError("payable.when end_of_month_after_start needs a contract start (basis contract_value_12m)")
        if (self.payable.final_once_payable or self.payable.void_if_cancelled_before_payable) and (
            self.payable.when != "end_of_month_after_start"
        ):
            raise ValueError("payable.final_once_payable and void_if_cancelled_before_payable need a payable date "
                             "(payable.when = end_of_month_after_start)")
        exp = minor_exponent(self.currency_default)
        for b in self.bonuses:
            for amount in (b.over, b.amount):
                if (amount * 10**exp) != (amount * 10**exp).to_integral_value():
                    raise ValueError(f"bonuses: {amount} has more decimals than {self.currency_default}")
        return self

    def to_minor(self, major: Decimal, currency: str | None = None) -> int:
        """A major-unit amount of the program file in minor units of `currency`, exactly."""
        scaled = major * 10 ** minor_exponent(currency or self.currency_default)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{major} is not a whole number of minor units")
        return int(scaled)


def _format_error(path: Path, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    return f"{path}: {loc or 'program'}: {msg}"


def bundled_program_path(name: str) -> Path:
    """The program file shipped with the connector, e.g. `bundled_program_path("consio")`."""
    resource = files("programs").joinpath(f"{name}.toml")
    path = Path(str(resource))
    if not path.is_file():
        raise ConfigError(f"no bundled program {name!r}")
    return path


def resolve_program_path(path: str | Path) -> Path:
    """`[program] file`: relative to the working directory first, then the bundled programs."""
    given = Path(path)
    if given.is_file():
        return given
    if not given.is_absolute():
        bundled = Path(str(files("programs"))) / given.name
        candidate = Path(str(files("programs"))).parent / given
        for option in (candidate, bundled):
            if option.is_file():
                return option
    raise ConfigError(f"program file not found: {path}")


def load_program(path: str | Path) -> Program:
    """Read and validate a program file; any unknown key or impossible value is a ConfigError."""
    resolved = resolve_program_path(path)
    try:
        with resolved.open("rb") as fh:
            data = tomllib.load(fh, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: cannot parse TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        return Program.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(Path(path), exc)) from None
