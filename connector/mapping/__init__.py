"""Mapping: the data files in `mappings/` turn each API's payloads into the connector's rows.

- `load`: reads and validates `mappings/<source>.toml` into a `Mappings` (a bad file is a
  `ConfigError` before any request).
- `model`: the loaded streams and fields; `StreamMapping.apply` turns one payload into rows.
- `paths`, `convert`, `codegen`: reading a dotted path, converting a value to its column
  type, and the compiled row builders that do both fast.
- `privacy`: removes what must never be stored (tax ids, bank numbers) before anything is written.
"""

from connector.mapping.errors import RecordError
from connector.mapping.load import (
    PACKAGE_DIR,
    REQUIRED_STREAMS,
    SENSITIVE_KINDS,
    TYPES,
    load_mapping_file,
    load_mappings,
    mapping_dir,
)
from connector.mapping.model import ChildSpec, FieldSpec, MappedRecord, Mappings, StreamMapping
from connector.mapping.paths import MISSING, Reader, compile_path, read_path
from connector.mapping.privacy import fingerprint, last4, redact_payload

__all__ = [
    "MISSING",
    "PACKAGE_DIR",
    "REQUIRED_STREAMS",
    "SENSITIVE_KINDS",
    "TYPES",
    "ChildSpec",
    "FieldSpec",
    "MappedRecord",
    "Mappings",
    "Reader",
    "RecordError",
    "StreamMapping",
    "compile_path",
    "fingerprint",
    "last4",
    "load_mapping_file",
    "load_mappings",
    "mapping_dir",
    "read_path",
    "redact_payload",
]
