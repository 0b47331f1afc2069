"""Mapping: the data files in `mappings/` turn each API's payloads into the connector's rows.

`privacy` removes what must never be stored (tax ids, bank numbers) before anything is written.
"""
