"""The ``sluice`` command-line client: ingest files into a Sluice API and follow their batches.

It talks to the API over HTTP only (and to S3 through an upload's presigned POST), so the
same command works against ``make run`` and a deployment; ``cli.main`` has the commands.
"""
