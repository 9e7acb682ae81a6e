"""Consent (issue 12): the suppression list, opt-out keywords, one-click unsubscribe, quiet hours
and scheduled sends. Contracts: docs/decisions.md, "Consent (issue 12) — the contracts"."""
