"""Accounts under /api: who am I, and revoking a token, for scripts holding a bearer token."""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..core.accounts import ROLES
from .auth import current_actor, current_user, get_accounts, require_role

bp = Blueprint("account_api", __name__)


def _token_json(token) -> dict:
    return {"id": token.id, "user": token.username, "label": token.label, "prefix": token.prefix,
            "created_at": token.created_at, "last_used_at": token.last_used_at, "revoked_at": token.revoked_at}


@bp.get("/me")
@require_role("viewer")
def me():
    """The caller: user name, role, what the role allows, and whether by session or token."""
    actor, user = current_actor(), current_user()
    return jsonify({"username": user.username, "role": user.role, "via": actor.via, "token_id": actor.token_id,
                    "roles": [r for r in ROLES if user.can(r)]})


@bp.delete("/tokens/<int:token_id>")
@require_role("viewer")
def revoke_token(token_id: int):
    """Revoke one of the caller's tokens (an admin: anyone's); a script may revoke the token it uses."""
    return jsonify(_token_json(get_accounts().revoke_token(token_id, current_user())))
