"""The embedded local runtime: moto as AWS, the project's real handlers as Lambda, one process.

Never deployed: it exists so the whole pipeline runs on a laptop with no account and
no Docker, through the same resource definitions and state machine as on AWS.
"""
