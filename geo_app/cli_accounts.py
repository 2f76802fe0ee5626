"""The `users` and `tokens` commands, and the first admin created by `init` / `serve`.

Passwords and tokens are printed to the console once, with print(), never through logging: a log
file must never hold a credential.
"""

from __future__ import annotations

import os
import sys

from .core.accounts import ROLES, Accounts, User, format_time, generate_password

PASSWORD_ENV = "GEO_APP_USER_PASSWORD"
ADMIN_PASSWORD_ENV = "GEO_APP_ADMIN_PASSWORD"
# Whoever runs the CLI on the server holds the store itself, so acts as an admin.
CLI_ADMIN = User(id=0, username="cli", role="admin", disabled=False, created_at=0.0, password_changed_at=0.0,
                 last_login_at=None)


def add_parsers(commands) -> None:
    """Add `users …` and `tokens …` to the main parser's subcommands."""
    users = commands.add_parser("users", help="user accounts: add, list, set-password, set-role, disable, enable",
                                description="Manage who may sign in, and with which role "
                                            f"({' < '.join(ROLES)}).")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user (password from --password-stdin, "
                                         f"${PASSWORD_ENV}, or generated and printed once)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="viewer", help="role (default viewer)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    actions.add_parser("list", help="list users and their roles")
    password = actions.add_parser("set-password", help="set a user's password (same sources as add)")
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    role = actions.add_parser("set-role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    for verb in ("disable", "enable"):
        actions.add_parser(verb, help=f"{verb} a user (a disabled user cannot sign in; their tokens stop working)"
                           ).add_argument("name")

    tokens = commands.add_parser("tokens", help="API tokens: create, list, revoke",
                                 description="API tokens for scripts and QGIS: `Authorization: Bearer <token>`; "
                                             "a token acts with its user's current role.")
    actions = tokens.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a token for a user (printed once)")
    create.add_argument("name")
    create.add_argument("--label", default="", help="what the token is for, e.g. 'QGIS on the office PC'")
    listing = actions.add_parser("list", help="list tokens (never the tokens themselves)")
    listing.add_argument("name", nargs="?", help="only this user's tokens")
    revoke = actions.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", type=int)


def _password(args) -> tuple[str, bool]:
    """(password, whether it was generated): stdin when asked, else the environment, else random."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV], False
    return generate_password(), True


def run_users(args, store) -> int:
    accounts = Accounts(store.accounts)
    if args.action == "list":
        print(f"{'user':<24} {'role':<10} {'state':<9} {'last sign-in':<16} created")
        for user in accounts.users():
            print(f"{user.username:<24} {user.role:<10} {'disabled' if user.disabled else 'active':<9} "
                  f"{format_time(user.last_login_at) or '-':<16} {format_time(user.created_at)}")
        return 0
    if args.action in ("add", "set-password"):
        password, generated = _password(args)
        if args.action == "add":
            user = accounts.add_user(args.name, args.role, password)
            print(f"added user '{user.username}' with role {user.role}")
        else:
            accounts.set_password(args.name, password)
            print(f"password of '{args.name.strip().lower()}' changed; their signed-in sessions have ended")
        if generated:
            print(f"password (shown once, not stored in clear anywhere): {password}")
        return 0
    if args.action == "set-role":
        user = accounts.set_role(args.name, args.role)
        print(f"'{user.username}' is now {user.role}")
        return 0
    user = accounts.set_disabled(args.name, args.action == "disable")
    print(f"'{user.username}' is {'disabled' if user.disabled else 'enabled'}")
    return 0


def run_tokens(args, store) -> int:
    accounts = Accounts(store.accounts)
    if args.action == "create":
        secret, token = accounts.create_token(accounts.user(args.name), args.label)
        print(f"token #{token.id} for '{token.username}' ({token.label}); shown once, send it as "
              f"'Authorization: Bearer <token>':")
        print(secret)
        return 0
    if args.action == "list":
        user = accounts.user(args.name) if args.name else None
        print(f"{'id':>4} {'user':<20} {'label':<24} {'starts':<11} {'created':<16} {'last used':<16} revoked")
        for t in accounts.tokens(user):
            print(f"{t.id:>4} {t.username:<20} {t.label[:24]:<24} {t.prefix + '…':<11} {format_time(t.created_at):<16} "
                  f"{format_time(t.last_used_at) or '-':<16} {format_time(t.revoked_at) or '-'}")
        return 0
    token = accounts.revoke_token(args.id, CLI_ADMIN)
    print(f"token #{token.id} of '{token.username}' revoked")
    return 0


def ensure_first_admin(store) -> None:
    """Create `admin` when the store has no user yet, printing a generated password once."""
    created, generated = Accounts(store.accounts).ensure_first_admin(os.environ.get(ADMIN_PASSWORD_ENV) or None)
    if not created:
        return
    if generated:
        print(f"created the first user 'admin' (role admin); its password, shown only this once: {generated}\n"
              "sign in and change it, or set it with `geo-app users set-password admin`", flush=True)
    else:
        print(f"created the first user 'admin' (role admin) with the password from ${ADMIN_PASSWORD_ENV}", flush=True)
