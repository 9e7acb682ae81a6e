"""The request path: from an API Gateway proxy event to a context message on a channel queue.

Read ``router.py`` first; each step it takes lives in a module named after it.
"""
