"""What the rules read from the store: facts as of a time, what changed since the last compute."""
