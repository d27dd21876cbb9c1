"""``python -m web [--host H] [--port P]`` serves the desk; ``python -m web operator add NAME --role agent``
creates an operator (password read from standard input, or asked twice on a terminal); ``operator list``;
``python -m web token desk|rasa|staff`` prints a shared token (created once in the data folder)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from datetime import datetime
from pathlib import Path

from aiohttp import web

from guichet.clock import SystemClock
from guichet.logs import configure_logging
from web.auth import Passwords, check_password_rules
from web.settings import SettingsError, load_settings, token
from web.store import ROLES, open_store

TOKENS = {"desk": ("GUICHET_DESK_TOKEN", "desk.token"), "rasa": ("GUICHET_RASA_TOKEN", "rasa.token"),
          "staff": ("GUICHET_STAFF_TOKEN", "staff.token")}


def serve(argv: list[str]) -> int:
    try:
        settings = load_settings(argv, os.environ)
    except SettingsError as exc:
        print(f"web: configuration invalide : {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from web.app import create_app

    app = create_app(settings)
    logging.getLogger("web").info("desk on http://%s:%d (database %s)", settings.host, settings.port,
                                  settings.database_url.split("@")[-1])
    # Access log off: query strings carry conversation ids.
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None,
                shutdown_timeout=5)
    return 0


def _password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Mot de passe : ")
    if getpass.getpass("Encore une fois : ") != first:
        raise SystemExit("Les deux mots de passe diffèrent.")
    return first


async def _operator(args: argparse.Namespace, database_url: str) -> int:
    store = open_store(database_url)
    try:
        await store.migrate()
        if args.action == "list":
            for operator in await store.operators():
                print(f"{operator.username}\t{operator.role}")
            return 0
        exists = await store.operator(username=args.username) is not None
        if exists and not args.update:
            print(f"L'opérateur {args.username} existe déjà (--update pour changer son mot de passe).",
                  file=sys.stderr)
            return 1
        password = _password()
        problem = check_password_rules(password)
        if problem:
            print(problem, file=sys.stderr)
            return 2
        hashed = Passwords().hash_now(password)
        if exists:
            await store.set_password(args.username, hashed, args.role)
            print(f"Opérateur {args.username} mis à jour ({args.role}).")
            return 0
        now: datetime = SystemClock().now()
        await store.add_operator(args.username, hashed, args.role, now)
        print(f"Opérateur {args.username} créé ({args.role}).")
        return 0
    finally:
        await store.close()


def main(argv: list[str]) -> int:
    if argv[:1] == ["operator"]:
        parser = argparse.ArgumentParser(prog="python -m web operator", description="Comptes des agents")
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="créer un opérateur (mot de passe sur l'entrée standard)")
        add.add_argument("username")
        add.add_argument("--role", choices=ROLES, default="agent")
        add.add_argument("--update", action="store_true", help="changer le mot de passe s'il existe")
        sub.add_parser("list", help="lister les opérateurs")
        args = parser.parse_args(argv[1:])
        if args.action == "add" and not (2 <= len(args.username) <= 32):
            print("L'identifiant fait de 2 à 32 caractères.", file=sys.stderr)
            return 2
        data = Path(os.environ.get("GUICHET_DATA_DIR", "data"))
        url = os.environ.get("GUICHET_DESK_DATABASE_URL", f"sqlite:///{data / 'desk.sqlite3'}")
        return asyncio.run(_operator(args, url))
    if argv[:1] == ["token"]:
        if len(argv) != 2 or argv[1] not in TOKENS:
            print("usage : python -m web token desk|rasa|staff", file=sys.stderr)
            return 2
        name, file = TOKENS[argv[1]]
        print(token(os.environ, name, Path(os.environ.get("GUICHET_DATA_DIR", "data")), file))
        return 0
    if argv[:1] == ["serve"]:
        argv = argv[1:]
    return serve(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
