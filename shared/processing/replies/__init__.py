"""The turn (issue 11): a channel processor answers the person's pending messages with one reply."""
