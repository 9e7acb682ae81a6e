"""Domain package of the AI Multi-Comms Engine, imported by every Lambda handler.

It holds the models, the rules and the flows; handlers in ``lambdas/`` only wire them to events.
"""
