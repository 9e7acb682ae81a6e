"""Pydantic models of everything the engine reads or writes; each is defined once, here."""
