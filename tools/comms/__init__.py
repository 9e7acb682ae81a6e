"""``comms``: the operators' one command line (issue 14), installed by ``make setup`` as ``.venv/bin/comms``.

``comms <group> <command> [--env dev|prod|local] [--region R] [--json] …`` — one module per group
(``company``, ``apikey``, ``secrets``, ``conversations``, ``dlq``, ``suppressions``, ``prompt``, …),
each with a ``register(groups)`` that adds its commands. ``--env local`` is the running ``make
local`` (read from ``.local/env``); ``dev``/``prod`` are the deployed environments of ``cdk.json``.
"""
