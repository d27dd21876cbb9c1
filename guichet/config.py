"""The one documented place for configuration: every ``GUICHET_*`` variable, and a pre-flight check.

``python -m guichet.config check [--env-file .env] [--no-bind]`` — run by ``make run`` before anything starts:
refuses (exit 2, one French line per problem) a port out of range, taken or used twice, an unreachable database
or Redis, a malformed URL or number, and in production (``GUICHET_ENV=production``) a missing or short secret.
``python -m guichet.config example`` prints ``.env.example`` (tests/unit/test_config.py keeps both in sync);
``python -m guichet.config token rasa|desk|staff`` prints ``data/<name>.token`` (created once if missing).
Each service still validates its own settings when it starts; this check sees the whole deployment at once.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Variable:
    name: str
    default: str  # "" = unset by default
    help: str
    kind: str = "text"  # text, port, udp-port, url, database, secret, number, level, env, flag, retriever


SECTIONS: tuple[tuple[str, tuple[Variable, ...]], ...] = (
    ("Général", (
        Variable("GUICHET_ENV", "development", "development ou production (production : secrets obligatoires)",
                 "env"),
        Variable("GUICHET_DATA_DIR", "data", "dossier de toutes les données (SQLite, jetons, modèles)"),
        Variable("GUICHET_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING ou ERROR", "level"),
        Variable("GUICHET_KNOWLEDGE_DIR", "", "dossier des fichiers de la commune (défaut : knowledge/data)"),
        Variable("GUICHET_TOWN_NAME", "Villeneuve-sur-Mauldre", "nom de la commune affiché par le guichet"),
        Variable("GUICHET_TRUSTED_CLIENTS", "127.0.0.1,::1", "adresses des services internes, non limitées"),
        Variable("GUICHET_RATELIMIT_STORAGE", "memory://", "memory:// ou redis://hôte:6379 (plusieurs répliques)"),
        Variable("GUICHET_DB_PASSWORD", "", "deploy/compose.yaml : mot de passe PostgreSQL de l'utilisateur guichet",
                 "secret"),
        Variable("GUICHET_CORS_ORIGINS", "*", "images Docker : origines autorisées par le serveur de dialogue"),
    )),
    ("Dialogue (Rasa)", (
        Variable("GUICHET_DIALOGUE_HOST", "127.0.0.1", "interface d'écoute du serveur de dialogue"),
        Variable("GUICHET_DIALOGUE_PORT", "5005", "port du serveur de dialogue", "port"),
        Variable("GUICHET_ALLOWED_ORIGINS", "", "sites autorisés à appeler le dialogue depuis un navigateur (CORS), "
                 "séparés par des espaces ; défaut : le guichet lui-même"),
        Variable("GUICHET_CHAT_LIMIT_SENDER", "20 per minute", "messages de chat par conversation avant attente"),
        Variable("GUICHET_CHAT_LIMIT_CLIENT", "120 per minute", "messages de chat par adresse avant attente "
                 "(hors GUICHET_TRUSTED_CLIENTS)"),
        Variable("GUICHET_RASA_MODEL", "", "modèle entraîné (défaut : data/models/guichet.tar.gz)"),
        Variable("GUICHET_RASA_ENDPOINTS", "deploy/endpoints.local.yml",
                 "deploy/endpoints.scale.yml pour le mode réparti (PostgreSQL + Redis)"),
        Variable("GUICHET_DIALOGUE_URL", "http://127.0.0.1:5005", "adresse du serveur de dialogue (services)",
                 "url"),
        Variable("GUICHET_DIALOGUE_PUBLIC_URL", "", "adresse socket.io vue des navigateurs (défaut : DIALOGUE_URL)",
                 "url"),
        Variable("GUICHET_RASA_TOKEN", "", "jeton de l'API HTTP de Rasa (défaut : data/rasa.token)", "secret"),
        Variable("GUICHET_RASA_TRACKER_URL", "", "mode réparti : postgresql://…/rasa (conversations)", "database"),
        Variable("GUICHET_REDIS_HOST", "", "mode réparti : hôte Redis (verrous des conversations)"),
        Variable("GUICHET_REDIS_PORT", "6379", "mode réparti : port Redis", "number"),
        Variable("GUICHET_REDIS_PASSWORD", "", "mode réparti : mot de passe Redis (vide : aucun)"),
        Variable("GUICHET_RASA_LOCK_DB", "1", "mode réparti : base Redis des verrous", "number"),
        Variable("GUICHET_RASA_LOCK_PREFIX", "guichet", "mode réparti : préfixe des clés (lettres et chiffres)"),
    )),
    ("Actions", (
        Variable("GUICHET_ACTIONS_PORT", "5055", "port du serveur d'actions", "port"),
        Variable("GUICHET_ACTIONS_URL", "http://127.0.0.1:5055/webhook", "webhook des actions (pour Rasa)", "url"),
        Variable("GUICHET_ACTIONS_METRICS_PORT", "", "port séparé des métriques des actions (vide : /metrics du port "
                 "5055 grâce à deploy/rasa-sdk-plugins)", "port"),
        Variable("GUICHET_ACTIONS_METRICS_HOST", "127.0.0.1", "interface des métriques des actions"),
        Variable("GUICHET_BOOKING_TIMEOUT_S", "5", "délai des appels au service de rendez-vous (s)", "number"),
        Variable("GUICHET_DESK_TIMEOUT_S", "5", "délai des appels au guichet des agents (s)", "number"),
        Variable("GUICHET_FAQ_RETRIEVER", "auto", "questions des citoyens : auto (classifieur s'il est installé), "
                 "classifier ou tfidf", "retriever"),
        Variable("GUICHET_CACHE_DIR", "data/cache", "classifieur des questions et ses plongements, calculés une fois "
                 "(make setup les prépare)"),
    )),
    ("Rendez-vous (booking)", (
        Variable("GUICHET_BOOKING_HOST", "127.0.0.1", "interface d'écoute"),
        Variable("GUICHET_BOOKING_PORT", "8081", "port du service de rendez-vous", "port"),
        Variable("GUICHET_BOOKING_URL", "http://127.0.0.1:8081", "adresse du service (pour les autres)", "url"),
        Variable("GUICHET_BOOKING_DATABASE_URL", "", "sqlite:///data/booking.db (défaut) ou postgresql://…",
                 "database"),
        Variable("GUICHET_PUBLIC_URL", "http://127.0.0.1:8085", "adresse publique de gestion des rendez-vous", "url"),
        Variable("GUICHET_STAFF_TOKEN", "", "jeton des agents (défaut : data/staff.token)", "secret"),
        Variable("GUICHET_LOOKUP_LIMIT_REFERENCE", "5 per 15 minutes", "essais de référence avant blocage"),
        Variable("GUICHET_LOOKUP_LIMIT_CLIENT", "20 per 15 minutes", "essais par client avant blocage"),
        Variable("GUICHET_ANTS_URL", "", "API de coordination ANTS (vide : désactivée)", "url"),
        Variable("GUICHET_ANTS_TOKEN", "", "jeton de l'API ANTS", "secret"),
        Variable("GUICHET_ANTS_HUB_TOKEN", "", "jeton présenté par le hub ANTS (vide : points éditeur fermés)",
                 "secret"),
        Variable("GUICHET_ANTS_TIMEOUT_S", "5", "délai des appels ANTS (s)", "number"),
        Variable("GUICHET_RETENTION_DAYS", "180", "jours de conservation des rendez-vous passés (données personnelles)",
                 "number"),
        Variable("GUICHET_ANTS_STANDIN_PORT", "8099", "port du simulateur ANTS local (make run)", "port"),
    )),
    ("Guichet des agents (desk)", (
        Variable("GUICHET_DESK_HOST", "127.0.0.1", "interface d'écoute"),
        Variable("GUICHET_DESK_PORT", "8085", "port du guichet (page de démo, widget, console)", "port"),
        Variable("GUICHET_DESK_URL", "http://127.0.0.1:8085", "adresse du guichet (pour les actions)", "url"),
        Variable("GUICHET_DESK_PUBLIC_URL", "", "adresse publique du guichet (https en production)", "url"),
        Variable("GUICHET_DESK_DATABASE_URL", "", "sqlite:///data/desk.sqlite3 (défaut) ou postgresql://…",
                 "database"),
        Variable("GUICHET_DESK_TOKEN", "", "jeton actions → guichet (défaut : data/desk.token)", "secret"),
        Variable("GUICHET_DESK_SECURE_COOKIES", "", "1 : cookies de session « Secure » (https)", "flag"),
        Variable("GUICHET_DESK_SESSION_IDLE_S", "28800", "déconnexion des agents après inactivité (s)", "number"),
        Variable("GUICHET_DESK_LOGIN_LIMIT_USER", "5 per 15 minutes", "essais de mot de passe par identifiant"),
        Variable("GUICHET_DESK_LOGIN_LIMIT_CLIENT", "30 per 15 minutes", "essais de mot de passe par client"),
        Variable("GUICHET_DESK_LIVE_WAIT_S", "180", "attente d'un agent en direct avant de repasser au rappel (s)",
                 "number"),
        Variable("GUICHET_DESK_HTTP_TIMEOUT_S", "5", "délai des appels du guichet aux autres services (s)", "number"),
    )),
    ("Téléphone (voice)", (
        Variable("GUICHET_VOICE_AUDIOSOCKET_PORT", "9092", "Asterisk AudioSocket (TCP)", "port"),
        Variable("GUICHET_VOICE_TWILIO_PORT", "8090", "Twilio Media Streams (WebSocket) et /health", "port"),
        Variable("GUICHET_VOICE_SIP_PORT", "5062", "SIP (UDP)", "udp-port"),
        Variable("GUICHET_VOICE_METRICS_PORT", "9093", "métriques Prometheus de la passerelle vocale", "port"),
        Variable("GUICHET_STT_ENGINE", "auto", "reconnaissance : auto (Vosk si son modèle français est installé, "
                 "sinon Whisper), vosk ou whisper"),
        Variable("GUICHET_VOSK_MODEL", "", "dossier du modèle Vosk (défaut : data/models/vosk/…)"),
        Variable("GUICHET_WHISPER_MODEL", "", "dossier du modèle Whisper (défaut : data/models/whisper-base, "
                 "installé par make setup)"),
        Variable("GUICHET_WHISPER_WINDOW", "fit", "fenêtre de Whisper : fit (la durée de la phrase) ou full (30 s)"),
        Variable("GUICHET_VOICE_PACE", "normal", "rythme : normal ou senior (voix plus lente, attentes plus longues)"),
        Variable("GUICHET_BOT_TIMEOUT", "15", "délai de réponse du dialogue (s)", "number"),
        Variable("GUICHET_STT_RATE", "16000", "fréquence de la reconnaissance (8000, 16000…)", "number"),
        Variable("GUICHET_STT_WORKERS", "2", "reconnaissances en parallèle", "number"),
        Variable("GUICHET_MIN_CONFIDENCE", "0.3", "confiance minimale de la reconnaissance (0 à 1)", "number"),
        Variable("GUICHET_MAX_REPEATS", "2", "reformulations avant un agent", "number"),
        Variable("GUICHET_TTS_VOICE", "fr", "voix espeak-ng (fr, fr-be…)"),
        Variable("GUICHET_TTS_RATE", "160", "débit de la voix (mots par minute)", "number"),
        Variable("GUICHET_OPERATOR_NUMBER", "", "numéro de transfert vers un agent"),
        Variable("GUICHET_SILENCE_TIMEOUT", "6", "silence avant relance (s)", "number"),
        Variable("GUICHET_MAX_SILENCES", "2", "relances, puis offre de rappel (touche 1), puis au revoir", "number"),
        Variable("GUICHET_VAD_AGGRESSIVENESS", "2", "détection de voix : 0 à 3", "number"),
        Variable("GUICHET_VAD_HANGOVER_MS", "600", "fin de parole après ce silence (ms)", "number"),
        Variable("GUICHET_VAD_START_MS", "100", "début de parole après cette durée (ms)", "number"),
        Variable("GUICHET_BARGE_IN_MIN_MS", "400", "parole de l'appelant qui interrompt le robot (ms ; plus court : "
                 "« hm », « oui » ne le coupent pas)", "number"),
        Variable("GUICHET_MAX_SPEECH", "20", "durée maximale d'une phrase (s)", "number"),
        Variable("GUICHET_DTMF_TIMEOUT", "2", "attente des touches du clavier (s)", "number"),
        Variable("GUICHET_TWILIO_API_URL", "", "API REST de Twilio (transferts)", "url"),
        Variable("GUICHET_TWILIO_ACCOUNT_SID", "", "compte Twilio (transferts vers un agent)"),
        Variable("GUICHET_TWILIO_AUTH_TOKEN", "", "jeton Twilio (transferts vers un agent)", "secret"),
    )),
)
VARIABLES: dict[str, Variable] = {v.name: v for _, section in SECTIONS for v in section}
PRODUCTION_SECRETS = ("GUICHET_STAFF_TOKEN", "GUICHET_DESK_TOKEN", "GUICHET_RASA_TOKEN")
MIN_SECRET = 24
Probe = Callable[[str, int, bool], str | None]


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines, as honcho reads ``.env`` (comments and blank lines ignored, quotes removed)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.removeprefix("export ").split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def port_free(host: str, port: int, udp: bool) -> str | None:
    """None if ``port`` can be bound on ``host`` now, else why not."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM) as s:
        if not udp:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def tcp_reachable(host: str, port: int, timeout: float = 3.0) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__


def _postgres_login(url: str) -> str | None:
    """Log in for real (wrong password or database are caught too) when asyncpg is installed."""
    try:
        import asyncpg  # type: ignore[import-untyped]
    except ImportError:
        return None

    async def login() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=3)
        await conn.close()

    try:
        asyncio.run(login())
    except Exception as exc:  # any failure is reported, in one line
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def check(env: Mapping[str, str], *, bind: bool = True, probe_ports: Probe | None = None,
          reach: Callable[[str, int], str | None] = tcp_reachable,
          login: Callable[[str], str | None] = _postgres_login) -> list[str]:
    """Every problem found, as French sentences naming the variable; empty when the configuration is usable."""
    def get(name: str) -> str:
        return env.get(name, VARIABLES[name].default if name in VARIABLES else "").strip()

    problems: list[str] = []
    mode = get("GUICHET_ENV")
    if mode not in ("development", "production"):
        problems.append(f"GUICHET_ENV vaut « development » ou « production », pas « {mode} ».")
    level = get("GUICHET_LOG_LEVEL").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        problems.append(f"GUICHET_LOG_LEVEL vaut DEBUG, INFO, WARNING ou ERROR, pas « {level} ».")
    seen: dict[int, str] = {}
    probe = probe_ports or port_free
    for var in VARIABLES.values():
        value = get(var.name)
        if not value:
            continue
        if var.kind in ("port", "udp-port"):
            if not value.isdigit() or not 1 <= int(value) <= 65535:
                problems.append(f"{var.name} doit être un port entre 1 et 65535, pas « {value} ».")
                continue
            port = int(value)
            if port in seen:
                problems.append(f"{var.name} et {seen[port]} utilisent le même port {port}.")
            seen[port] = var.name
            why = probe("127.0.0.1", port, var.kind == "udp-port") if bind else None
            if why:
                problems.append(f"{var.name} : le port {port} est déjà pris ({why}) — un autre service tourne-t-il "
                                "déjà ? Arrêtez-le ou choisissez un autre port.")
        elif var.kind == "number":
            try:
                if float(value) < 0:
                    raise ValueError
            except ValueError:
                problems.append(f"{var.name} doit être un nombre positif, pas « {value} ».")
        elif var.kind == "retriever" and value not in ("auto", "classifier", "tfidf"):
            problems.append(f"{var.name} vaut auto, classifier ou tfidf, pas « {value} ».")
        elif var.kind == "flag" and value.lower() not in ("0", "1", "true", "false"):
            problems.append(f"{var.name} vaut 1 ou 0, pas « {value} ».")
        elif var.kind == "url":
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                problems.append(f"{var.name} doit être une adresse http(s)://hôte[:port], pas « {value} ».")
        elif var.kind == "database":
            problems.extend(_check_database(var.name, value, reach, login))
    if get("GUICHET_RASA_TRACKER_URL") or get("GUICHET_REDIS_HOST"):
        problems.extend(_check_scale_out(get, reach))
    if get("GUICHET_ANTS_URL") and not get("GUICHET_ANTS_TOKEN"):
        problems.append("GUICHET_ANTS_URL est défini mais GUICHET_ANTS_TOKEN est vide.")
    if mode == "production":
        problems.extend(_check_production(get))
    return problems


def _check_database(name: str, url: str, reach: Callable[[str, int], str | None],
                    login: Callable[[str], str | None]) -> list[str]:
    if url.startswith("sqlite:///"):
        folder = Path(url.removeprefix("sqlite:///")).parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir() or not _writable(folder):
            return [f"{name} : le dossier {folder} n'est pas accessible en écriture."]
        return []
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+asyncpg") or not parts.hostname:
        return [f"{name} doit être sqlite:///chemin ou postgresql://utilisateur:mot-de-passe@hôte:5432/base, "
                f"pas « {_hide_password(url)} »."]
    why = reach(parts.hostname, parts.port or 5432)
    if why:
        return [f"{name} : la base {parts.hostname}:{parts.port or 5432} est injoignable ({why})."]
    why = login(url)
    return [f"{name} : connexion refusée à {_hide_password(url)} ({why})."] if why else []


def _check_scale_out(get: Callable[[str], str], reach: Callable[[str, int], str | None]) -> list[str]:
    problems = []
    host, port = get("GUICHET_REDIS_HOST"), get("GUICHET_REDIS_PORT")
    if not get("GUICHET_RASA_TRACKER_URL") or not host:
        problems.append("Mode réparti : définissez à la fois GUICHET_RASA_TRACKER_URL (PostgreSQL) et "
                        "GUICHET_REDIS_HOST (Redis).")
    elif port.isdigit():
        why = reach(host, int(port))
        if why:
            problems.append(f"GUICHET_REDIS_HOST : Redis {host}:{port} est injoignable ({why}).")
    prefix = get("GUICHET_RASA_LOCK_PREFIX")
    if prefix and not prefix.isalnum():
        problems.append(f"GUICHET_RASA_LOCK_PREFIX : lettres et chiffres seulement, pas « {prefix} ».")
    return problems


def _check_production(get: Callable[[str], str]) -> list[str]:
    problems = []
    for name in PRODUCTION_SECRETS:
        value = get(name)
        if not value:
            problems.append(f"En production, {name} est obligatoire (un secret d'au moins {MIN_SECRET} caractères, "
                            "par exemple : python -c 'import secrets; print(secrets.token_urlsafe(32))').")
        elif len(value) < MIN_SECRET:
            problems.append(f"En production, {name} doit faire au moins {MIN_SECRET} caractères.")
    if get("GUICHET_DESK_SECURE_COOKIES").lower() not in ("1", "true"):
        problems.append("En production, GUICHET_DESK_SECURE_COOKIES=1 (cookies de session réservés à https).")
    return problems


def _writable(folder: Path) -> bool:
    import os

    return os.access(folder, os.W_OK | os.X_OK)


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def example() -> str:
    """The text of ``.env.example``."""
    lines = ["# Configuration du guichet : copiez ce fichier en .env (lu par `make run` / honcho) et modifiez-le.",
             "# Chaque variable a une valeur par défaut (celle affichée, ou vide : celle du service) ;",
             "# décommentez les lignes que vous changez. Vérification : .venv/bin/python -m guichet.config check"]
    for title, section in SECTIONS:
        lines += ["", f"# --- {title} ---"]
        for var in section:
            lines.append(f"# {var.help}")
            lines.append(f"#{var.name}={var.default}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(prog="python -m guichet.config", description="Configuration du guichet")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("check", help="vérifier la configuration avant le démarrage")
    run.add_argument("--env-file", type=Path, default=Path(".env"), help="fichier .env (comme honcho)")
    run.add_argument("--no-bind", action="store_true", help="ne pas vérifier que les ports sont libres")
    commands.add_parser("example", help="afficher .env.example")
    token = commands.add_parser("token", help="afficher un jeton de data/ (créé au besoin)")
    token.add_argument("name", choices=("rasa", "desk", "staff"))
    args = parser.parse_args(argv)
    if args.command == "example":
        sys.stdout.write(example())
        return 0
    if args.command == "token":
        from guichet.tokens import stored_token  # atomic creation: services starting together agree

        data = Path((os.environ if environ is None else environ).get("GUICHET_DATA_DIR") or "data")
        print(stored_token(data / f"{args.name}.token"))
        return 0
    env = {**(os.environ if environ is None else environ), **read_env_file(args.env_file)}
    problems = check(env, bind=not args.no_bind)
    if problems:
        print("Configuration invalide — le guichet ne démarre pas :", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    print(f"Configuration vérifiée ({env.get('GUICHET_ENV', 'development')}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
