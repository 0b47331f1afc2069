"""Pull: read every upstream stream into the store, one page and its cursor per transaction."""
