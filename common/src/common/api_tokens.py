"""Bearer tokens for the write APIs (webapp's `/api/...` writes, dbapp's `POST /store`).

`API_TOKENS` holds hashes, never tokens: `name:sha256hex` entries separated by commas, one per client. A request
sends `Authorization: Bearer <token>`; the service hashes it and compares it with every entry in constant time.
So the Secret that holds `API_TOKENS` (and any log or dump of the environment) never reveals a usable token, and
a client's name (logged with its writes, and the scope of its idempotency keys) comes from its entry.

Unset or empty, the write APIs are open: right on one machine (`make up`) and for the seed system's clients,
which send no token. The production overlay sets it.

    python -m common.api_tokens <name>    # prints a new token, and the API_TOKENS entry that accepts it
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from common.settings import ConfigError

VARIABLE = "API_TOKENS"
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ApiTokens:
    """The accepted token digests by client name; empty means the write APIs need no token."""

    digests: tuple[tuple[str, str], ...] = ()

    @property
    def required(self) -> bool:
        return bool(self.digests)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiTokens:
        entries = [entry.strip() for entry in env.get("API_TOKENS", "").split(",") if entry.strip()]
        digests: list[tuple[str, str]] = []
        for position, entry in enumerate(entries, start=1):
            name, _, digest = entry.partition(":")
            if not _NAME.fullmatch(name) or not _DIGEST.fullmatch(digest.lower()):
                raise ConfigError(
                    f"{VARIABLE}: entry {position} is not `name:sha256hex` (a lower-case name of at most 40 letters, "
                    "digits or '-', then the 64 hex digits of the token's SHA-256; "
                    "`python -m common.api_tokens <name>` makes one)"
                )
            if any(known == name for known, _ in digests):
                raise ConfigError(f"{VARIABLE}: the client name {name!r} appears twice")
            digests.append((name, digest.lower()))
        return cls(tuple(digests))

    def client(self, authorization: str | None) -> str | None:
        """The name of the client whose token `authorization` (`Bearer <token>`) carries, or None."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        digest = token_digest(token.strip())
        found = None
        for name, known in self.digests:  # every entry is compared, so the time does not say which one matched
            if hmac.compare_digest(digest, known):
                found = name
        return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not _NAME.fullmatch(args[0]):
        sys.stderr.write("usage: python -m common.api_tokens <client-name>  (lower-case letters, digits, '-')\n")
        return 2
    token = secrets.token_urlsafe(32)
    sys.stdout.write(f"token (give it to the client, keep it secret): {token}\n")
    sys.stdout.write(f"{VARIABLE} entry (safe to store in the Secret): {args[0]}:{token_digest(token)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
