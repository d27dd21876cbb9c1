"""``python -m guichet.gdpr export|erase|purge``: see guichet/gdpr/__init__.py."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from booking.domain import InvalidRequest
from clients.tickets import SqliteTicketStore
from guichet.clock import Clock, SystemClock
from guichet.config import read_env_file
from guichet.gdpr.citizen import Citizen
from guichet.gdpr.operations import Report, erase, export, purge
from guichet.gdpr.stores import LABELS, ConfigError, Stores, absent
from guichet.tracker_purge import TrackerEvents
from web.store import DeskStore, open_store

_COUNTS = {"appointments": "rendez-vous", "cases": "dossier(s)", "messages": "message(s)",
           "conversations": "conversation(s)", "events": "événement(s)", "tickets": "demande(s) de rappel"}


def _print_report(title: str, report: Report, notes: dict[str, str], *, out: TextIO = sys.stdout) -> int:
    print(title, file=out)
    for key, label in LABELS.items():
        if key in report.failures:
            print(f"  - {label} : NON TRAITÉ — {report.failures[key]}", file=out)
        elif key in report.lines or key in notes:
            print(f"  - {label} : {notes.get(key) or report.lines[key]}", file=out)
    for key in report.failures:
        print(f"Attention : {LABELS[key]} est injoignable ou en erreur ; rien n'y a été fait. Les autres stockages "
              "ont été traités ; relancez la commande quand il répondra de nouveau.", file=sys.stderr)
    return 1 if report.failures else 0


async def _run(args: argparse.Namespace, stores: Stores, clock: Clock) -> int:
    notes: dict[str, str] = {}
    desk: DeskStore | None = None
    outbox: SqliteTicketStore | None = None
    if (missing := absent(stores.desk_database)) is not None:
        notes["desk"] = f"aucune donnée ({missing} n'existe pas)"
    else:
        desk = open_store(stores.desk_database)
    if (missing := absent(stores.tracker_url)) is not None:
        notes["tracker"] = f"aucune donnée ({missing} n'existe pas)"
    if stores.outbox.exists():
        outbox = SqliteTicketStore(stores.outbox, retention_days=stores.retention_days, clock=clock)
    else:
        notes["outbox"] = f"aucune donnée ({stores.outbox} n'existe pas)"
    tracker = TrackerEvents(stores.tracker_url)
    try:
        if args.command == "purge":
            report = await purge(desk, tracker, outbox, clock.now(), stores.retention_days)
            notes["booking"] = "purgé chaque jour par le service de rendez-vous lui-même"
            return _print_report(f"Durée de conservation : {stores.retention_days} jours.", report, notes)
        citizen = Citizen(args.phone)
        if args.command == "erase":
            report = await erase(stores, citizen, desk, tracker, outbox, clock)
            return _print_report(f"Effacement des données du {citizen.masked} :", report, notes)
        document, failures = await export(stores, citizen, desk, tracker, outbox, clock)
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        if args.out is not None:
            args.out.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        counts = ", ".join(f"{n} {_COUNTS[k]}" for k, n in document["counts"].items())
        where = f" dans {args.out}" if args.out is not None else ""
        return _print_report(f"Export des données du {citizen.masked}{where} : {counts}.",
                             Report(failures=failures), {}, out=sys.stderr)
    finally:
        if desk is not None:
            await desk.close()


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None,
         clock: Clock | None = None) -> int:
    from guichet.logs import configure_logging

    parser = argparse.ArgumentParser(prog="python -m guichet.gdpr",
                                     description="Données personnelles : accès, effacement, durée de conservation")
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="fichier .env (comme make run)")
    commands = parser.add_subparsers(dest="command", required=True)
    export_cmd = commands.add_parser("export", help="tout ce qui est conservé sur un numéro de téléphone (JSON)")
    export_cmd.add_argument("--phone", required=True, help="numéro de téléphone du citoyen")
    export_cmd.add_argument("--out", type=Path, help="fichier où écrire le JSON (défaut : la sortie standard)")
    erase_cmd = commands.add_parser("erase", help="effacer partout les données d'un numéro de téléphone")
    erase_cmd.add_argument("--phone", required=True, help="numéro de téléphone du citoyen")
    erase_cmd.add_argument("--yes", action="store_true", help="confirmer l'effacement (irréversible)")
    commands.add_parser("purge", help="supprimer ce qui dépasse la durée de conservation")
    args = parser.parse_args(argv)
    configure_logging("ERROR")
    if args.command == "erase" and not args.yes:
        print("Effacement refusé : il est définitif (rendez-vous à venir annulés, dossiers, conversations et "
              "demandes de rappel effacés). Vérifiez le numéro, puis relancez la commande avec --yes.",
              file=sys.stderr)
        return 2
    env = {**(os.environ if environ is None else environ), **read_env_file(args.env_file)}
    try:
        stores = Stores.from_env(env)
        if args.command != "purge":
            Citizen(args.phone)
    except (ConfigError, InvalidRequest) as exc:
        print(f"{exc.message if isinstance(exc, InvalidRequest) else exc}", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, stores, clock or SystemClock()))


if __name__ == "__main__":
    sys.exit(main())
