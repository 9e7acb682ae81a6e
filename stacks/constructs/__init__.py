"""Small constructs, one per concern, that the stacks wire together."""
