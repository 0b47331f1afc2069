"""Push: the outbox of payable entries, sent to the platform exactly once."""
