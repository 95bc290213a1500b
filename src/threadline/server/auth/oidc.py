"""OIDC bearer JWTs, verified against the configured issuer's JWKS.

A JWT is accepted only when its signature checks with a key the issuer's JWKS publishes (by
``kid``; the set is fetched on first use, cached five minutes, and fetched again when an unknown
``kid`` arrives, for key rotation), its ``iss`` is the configured issuer, its ``aud`` names the
configured audience, and ``exp`` (required), ``nbf`` and ``iat`` hold within the allowed clock
skew.  Only asymmetric algorithms are accepted: ``alg: none`` and HMAC (which would let a
published public key sign) are refused.

The roles claim (setting ``oidc_roles_claim``, default ``threadline_roles``) lists
``role:namespace`` grants; the clearances claim (``oidc_clearances_claim``) lists labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import jwt

from threadline.config import Settings
from threadline.errors import UsageError
from threadline.server.auth.grants import Grant, Identity

#: Asymmetric signatures only (see the module docstring).
ALGORITHMS: Final = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "EdDSA",
)


class InvalidToken(Exception):
    """The bearer JWT is not acceptable; the message says why."""


@dataclass(frozen=True, slots=True)
class OidcVerifier:
    issuer: str
    audience: str
    keys: jwt.PyJWKClient
    roles_claim: str
    clearances_claim: str
    leeway: float

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcVerifier | None:
        """The verifier the settings configure, ``None`` when no issuer is set."""
        if settings.oidc_issuer is None:
            return None
        if not settings.oidc_audience or not settings.oidc_jwks_url:
            raise UsageError(
                "oidc_issuer needs oidc_audience and oidc_jwks_url too (the audience tokens "
                "must name, and where the issuer publishes its keys)"
            )
        return cls(
            settings.oidc_issuer,
            settings.oidc_audience,
            jwt.PyJWKClient(settings.oidc_jwks_url, lifespan=300, timeout=5),
            settings.oidc_roles_claim,
            settings.oidc_clearances_claim,
            settings.oidc_leeway_seconds,
        )

    def identify(self, token: str) -> Identity:
        """The identity a valid JWT carries; :class:`InvalidToken` otherwise (blocking: it may
        fetch the JWKS)."""
        try:
            key = self.keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidToken(f"bearer JWT refused: {exc}") from None
        try:
            grants = tuple(Grant.parse(str(g)) for g in _listed(claims.get(self.roles_claim)))
        except UsageError as exc:
            raise InvalidToken(f"bearer JWT claim {self.roles_claim}: {exc}") from None
        clearances = frozenset(str(c) for c in _listed(claims.get(self.clearances_claim)))
        return Identity(f"oidc:{claims.get('sub', '?')}", grants, clearances)


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    return list(value) if isinstance(value, list) else [value]


__all__ = ["ALGORITHMS", "InvalidToken", "OidcVerifier"]
