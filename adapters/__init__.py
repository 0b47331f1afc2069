"""One package per upstream API."""
