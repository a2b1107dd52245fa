"""OAuth2 password flow with HS256 JWTs (PyJWT), and role checks.

Decoding pins the algorithm list to HS256, so `alg: none` and key-confusion
tokens fail signature checks; exp, iat, sub and iss are required.
"""

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from gateway.config import ApiConfig
from gateway.passwords import verify_password

ALGORITHM = "HS256"
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)

# What each role may do.
ROLE_ACTIONS: dict[str, set[str]] = {
    "admin": {"read", "trade_ops", "kill_switch", "risk_edit", "compliance_edit", "trading_day"},
    "risk": {"read", "kill_switch", "risk_edit"},
    "compliance": {"read", "compliance_edit"},
    "viewer": {"read"},
}


@dataclass(frozen=True)
class User:
    name: str
    roles: tuple[str, ...]

    def may(self, action: str) -> bool:
        return any(action in ROLE_ACTIONS.get(role, ()) for role in self.roles)


class TokenService:
    def __init__(self, config: ApiConfig, secret: str) -> None:
        self.config = config
        self.secret = secret
        self.users = {u.name: u for u in config.users}

    def authenticate(self, username: str, password: str) -> User | None:
        user = self.users.get(username)
        if user is None or not verify_password(password, user.password):
            return None
        return User(user.name, tuple(user.roles))

    def issue(self, user: User) -> str:
        now = int(time.time())
        claims = {
            "sub": user.name,
            "roles": list(user.roles),
            "iss": self.config.issuer,
            "iat": now,
            "exp": now + self.config.token_ttl_s,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> User:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=self.config.issuer,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("token expired") from None
        except jwt.InvalidIssuerError:
            raise _unauthorized("token has the wrong issuer") from None
        except jwt.InvalidTokenError as exc:
            raise _unauthorized(f"invalid token: {exc}") from None
        roles = claims.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise _unauthorized("invalid token: roles claim malformed")
        return User(str(claims["sub"]), tuple(roles))


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def require(action: str) -> Callable[..., Coroutine[Any, Any, User]]:
    """A dependency: the caller's user if a valid token grants `action`, else 401/403."""

    async def dependency(
        request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
    ) -> User:
        if not token:
            raise _unauthorized("not authenticated: send Authorization: Bearer <token>")
        tokens: TokenService = request.app.state.tokens
        user = tokens.verify(token)
        if not user.may(action):
            needed = sorted(r for r, actions in ROLE_ACTIONS.items() if action in actions)
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"user {user.name} lacks a role for this: needs one of {', '.join(needed)}",
            )
        return user

    return dependency
