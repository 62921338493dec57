"""API keys: random bearer tokens, stored only as SHA-256 hashes, each with scopes.

A key is 32 random bytes, so a plain SHA-256 is enough (no password-hashing cost on
every request). The table's key is the hash; the first 12 hex characters are the id
people see and revoke by. Run ``python -m chalicelib.api_keys --help`` to create, list
and revoke keys against the table named by ``SLUICE_API_KEYS_TABLE``.
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import sys
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr
from pydantic import BaseModel, ConfigDict

from shared.clock import utc_now
from shared.dynamo import from_item, to_item

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_dynamodb.service_resource import Table

__all__ = ["ApiKey", "ApiKeyRepository", "Scope", "hash_token", "new_token", "token_from_header"]

TOKEN_PREFIX = "sluice_"
ID_LENGTH = 12


class Scope(StrEnum):
    """What a key may do: read batches, ingest batches, or both (admin)."""

    READ = "read"
    INGEST = "ingest"
    ADMIN = "admin"


class ApiKey(BaseModel):
    """A stored key: its hash, name and scopes; never the token itself."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    key_id: str
    name: str
    scopes: list[Scope]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def short_id(self) -> str:
        """The id shown to people (a prefix of the hash)."""
        return self.key_id[:ID_LENGTH]

    @property
    def active(self) -> bool:
        """Whether the key may still be used."""
        return self.revoked_at is None


def new_token() -> str:
    """Return a fresh random token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the hash a token is stored under."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_from_header(header: str | None) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header, or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        return None
    return token


class ApiKeyRepository:
    """The API keys table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def create(
        self, name: str, scopes: Sequence[Scope], token: str | None = None
    ) -> tuple[ApiKey, str]:
        """Store a new key (or the given token) and return it with its token, shown only now."""
        token = token or new_token()
        key = ApiKey(
            key_id=hash_token(token), name=name, scopes=sorted(set(scopes)), created_at=utc_now()
        )
        self._table.put_item(Item=to_item(key))
        return key, token

    def find(self, token: str) -> ApiKey | None:
        """Return the active key a token belongs to, or None."""
        item = self._table.get_item(Key={"key_id": hash_token(token)}).get("Item")
        if item is None:
            return None
        key = ApiKey.model_validate(from_item(item))
        return key if key.active else None

    def list(self) -> list[ApiKey]:
        """Return every key, revoked ones included."""
        items: list[dict[str, Any]] = []
        response = self._table.scan()
        items.extend(response["Items"])
        while "LastEvaluatedKey" in response:
            response = self._table.scan(ExclusiveStartKey=response["LastEvaluatedKey"])
            items.extend(response["Items"])
        keys = [ApiKey.model_validate(from_item(item)) for item in items]
        return sorted(keys, key=lambda k: k.created_at)

    def revoke(self, short_id: str) -> ApiKey | None:
        """Revoke the key whose id starts with ``short_id``; return it, or None if none matches."""
        matches = [k for k in self.list() if k.key_id.startswith(short_id) and k.active]
        if len(matches) != 1 or len(short_id) < 6:
            return None
        self._table.update_item(
            Key={"key_id": matches[0].key_id},
            UpdateExpression="SET revoked_at = :now",
            ConditionExpression=Attr("key_id").exists(),
            ExpressionAttributeValues={":now": utc_now().isoformat()},
        )
        return matches[0]


def _main(argv: list[str] | None = None) -> int:
    import boto3

    from shared.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m chalicelib.api_keys", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print its token once")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scope",
        action="append",
        choices=[s.value for s in Scope],
        required=True,
        help="repeat for several scopes",
    )
    commands.add_parser("list", help="list keys (never their tokens)")
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)

    table = boto3.resource("dynamodb").Table(get_settings().api_keys_table)
    keys = ApiKeyRepository(table)
    out = sys.stdout
    if args.command == "create":
        key, token = keys.create(args.name, [Scope(s) for s in args.scope])
        out.write(f"created key {key.short_id} ({key.name}; {', '.join(key.scopes)})\n")
        out.write(f"token (shown once, keep it secret): {token}\n")
    elif args.command == "list":
        for key in keys.list():
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            out.write(f"{key.short_id}  {key.name:<20} {','.join(key.scopes):<20} {state}\n")
    else:
        revoked = keys.revoke(args.key_id)
        if revoked is None:
            sys.stderr.write(f"no single active key has an id starting with {args.key_id!r}\n")
            return 1
        out.write(f"revoked {revoked.short_id} ({revoked.name})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
