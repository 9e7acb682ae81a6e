"""The thread after the first message (issue 11): the person's replies, matched, recorded and answered."""
