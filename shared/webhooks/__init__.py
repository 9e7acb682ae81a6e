"""The verified webhook ingress: the one way a provider's request enters the engine (DESIGN §10).

Routes carry the tenant in the path so the engine knows whose credentials verify the request;
nothing is queued or written before the signature checks out.
"""
