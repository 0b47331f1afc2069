"""The payout rates a compute pass books with: the reward currency and finance's rate file, read once a pass.

Why here and not in the pull: the rates are reference data the booking applies to open entries, not
records mirrored into the store; reading the (short) file whole at the start of the pass means an
edited file is what the next pass pays with, and its digest joins the program's (compute.py), so a
changed file makes that pass full and releases every entry held `fx_rate_missing` it now covers.
"""

from __future__ import annotations

from adapters.files.fx import read_fx_rates
from connector.config import ConfigError, Settings
from connector.rules.payout import PayoutRates


def load_payouts(settings: Settings) -> PayoutRates:
    """The reward currency with `[finance] fx_rates_file`'s rates (none when unset); ConfigError names
    the setting, the file and the line when the file cannot be used."""
    path = settings.finance.fx_rates_file
    try:
        rates = read_fx_rates(path) if path else []
        return PayoutRates(settings.partnerstack.reward_currency, rates)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"bad setting finance.fx_rates_file: {exc}") from None
