"""`connector report --tax-year YEAR`: the year-end 1099-NEC list (`connector.report.tax1099`).

Apart from `connector.run.cli` so the report command needs only a short hook; imported when used.
"""

from __future__ import annotations

import sys
from pathlib import Path


def nec_report(config: Path | None, year: int, fmt: str, output: Path | None) -> None:
    from connector.config import ConfigError
    from connector.report.tax1099 import nec_list, write_nec
    from connector.rules.program import load_program
    from connector.run.cli import _exit_codes, _out, _settings
    from connector.run.runner import open_engine
    from connector.store.db import session_factory

    with _exit_codes():
        if not 1900 <= year <= 9999:
            raise ConfigError(f"--tax-year: not a year: {year}")
        settings = _settings(config)
        threshold = settings.tax.nec_threshold(year)
        program = load_program(settings.program.file).name
        if output is None and fmt in ("csv", "xlsx"):
            output = Path(settings.report.output_dir) / f"1099-nec-{year}.{fmt}"
        engine = open_engine(settings)
        try:
            with session_factory(engine)() as session:
                listed = nec_list(session, program, year, threshold)
        finally:
            engine.dispose()
        try:
            text = write_nec(listed, fmt, output)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if output is not None:
        _out().print(f"wrote {output}", highlight=False)
    else:
        sys.stdout.write(text)
