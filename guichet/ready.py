"""``python -m guichet.ready``: the ``ready`` line of deploy/Procfile (``make run``).

Waits until every service answers its health address, prints the addresses a person needs (site, console, API,
telephone, metrics), then stays idle: honcho stops everything when any process exits, so this one only exits when
honcho stops it (Ctrl-C). A service still silent after ``--warn-after`` seconds is named, and waiting goes on.
The voice gateway is waited for only when a Vosk model is present (without one it idles and says how to get one).
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from guichet.config import VARIABLES


@dataclass(frozen=True)
class Service:
    name: str
    probe: str  # http://… (answers 2xx) or tcp://host:port (accepts a connection)


def _port(env: Mapping[str, str], name: str) -> str:
    return env.get(name) or VARIABLES[name].default


def recognizer(env: Mapping[str, str]) -> str | None:
    """The recognizer the voice service will use, as voice/stt.py chooses it (paths only: nothing is loaded)."""
    engine = (env.get("GUICHET_STT_ENGINE") or "auto").lower()
    vosk = Path(env.get("GUICHET_VOSK_MODEL") or "data/models/vosk")  # as voice/settings.py
    whisper = Path(env.get("GUICHET_WHISPER_MODEL") or "data/models/whisper-base")
    if engine in ("auto", "vosk") and vosk.is_dir() and any(vosk.iterdir()):
        return "Vosk"
    if engine in ("auto", "whisper") and ((whisper / "model.bin").is_file() or any(whisper.glob("*/model.bin"))):
        return "Whisper base"
    return None


def voice_model_present(env: Mapping[str, str]) -> bool:
    return recognizer(env) is not None


def services(env: Mapping[str, str]) -> list[Service]:
    host = "127.0.0.1"
    found = [
        Service("booking", f"http://{host}:{_port(env, 'GUICHET_BOOKING_PORT')}/health"),
        Service("actions", f"http://{host}:{_port(env, 'GUICHET_ACTIONS_PORT')}/health"),
        Service("dialogue", f"http://{host}:{_port(env, 'GUICHET_DIALOGUE_PORT')}/"),
        Service("desk", f"http://{host}:{_port(env, 'GUICHET_DESK_PORT')}/health"),
        Service("ants-standin", f"tcp://{host}:{_port(env, 'GUICHET_ANTS_STANDIN_PORT')}"),
    ]
    if voice_model_present(env):
        found.append(Service("voice", f"http://{host}:{_port(env, 'GUICHET_VOICE_TWILIO_PORT')}/health"))
    return found


def answers(probe: str, timeout: float = 2.0) -> bool:
    if probe.startswith("tcp://"):
        host, _, port = probe.removeprefix("tcp://").rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout):
                return True
        except OSError:
            return False
    try:
        with urllib.request.urlopen(probe, timeout=timeout) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def wait_all(wanted: Sequence[Service], *, seconds: float, warn_after: float,
             check: Callable[[str], bool] = answers, sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic, say: Callable[[str], None] = print) -> list[str]:
    """Poll until all answer or ``seconds`` pass; the names still silent (empty when all are ready)."""
    start = clock()
    pending = list(wanted)
    warned = False
    while pending:
        pending = [s for s in pending if not check(s.probe)]
        if not pending:
            break
        elapsed = clock() - start
        if elapsed >= seconds:
            break
        if not warned and elapsed >= warn_after:
            say(f"En attente de : {', '.join(s.name for s in pending)} (le dialogue met ~30 à 90 s à charger "
                "son modèle)…")
            warned = True
        sleep(0.5)
    return [s.name for s in pending]


def summary(env: Mapping[str, str]) -> str:
    def p(name: str) -> str:
        return _port(env, name)

    h = "127.0.0.1"
    data = env.get("GUICHET_DATA_DIR") or "data"
    voice = (f"AudioSocket {h}:{p('GUICHET_VOICE_AUDIOSOCKET_PORT')}, Twilio ws://{h}:{p('GUICHET_VOICE_TWILIO_PORT')}"
             f"/twilio/media, SIP udp {h}:{p('GUICHET_VOICE_SIP_PORT')}")
    heard_by = recognizer(env)
    if heard_by is None:
        voice = "en attente d'un modèle de reconnaissance (make setup, ou make models) ; le reste fonctionne"
    else:
        voice += f" (reconnaissance : {heard_by})"
    metrics_port = p("GUICHET_ACTIONS_METRICS_PORT") or p("GUICHET_ACTIONS_PORT")
    rows = [
        ("Site de démonstration (chat)", f"http://{h}:{p('GUICHET_DESK_PORT')}/"),
        ("Console des agents", f"http://{h}:{p('GUICHET_DESK_PORT')}/console"),
        ("Dialogue (Rasa)", f"http://{h}:{p('GUICHET_DIALOGUE_PORT')} (REST /webhooks/rest/webhook, socket.io)"),
        ("Actions", f"http://{h}:{p('GUICHET_ACTIONS_PORT')}"),
        ("Rendez-vous (API)", f"http://{h}:{p('GUICHET_BOOKING_PORT')}/api/v1 (description /api/openapi.json)"),
        ("ANTS (simulateur local)", f"http://{h}:{p('GUICHET_ANTS_STANDIN_PORT')}"),
        ("Téléphone", voice),
        ("Métriques Prometheus", f"http://{h}:{p('GUICHET_BOOKING_PORT')}/metrics, "
                                 f"http://{h}:{p('GUICHET_DESK_PORT')}/metrics"
                                 + (f", http://{h}:{metrics_port}/metrics (actions)" if metrics_port else "")),
        ("Données", f"{data}/ (jeton agent : {data}/staff.token)"),
    ]
    width = max(len(label) for label, _ in rows)
    lines = ["", "Le guichet est prêt :"] + [f"  {label.ljust(width)}  {value}" for label, value in rows]
    lines += ["  Créer un compte agent : .venv/bin/python -m web operator add NOM --role superviseur",
              "Ctrl-C arrête tout.", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(prog="python -m guichet.ready", description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=600, help="attente maximale (s)")
    parser.add_argument("--warn-after", type=float, default=120, help="nommer les services lents après (s)")
    parser.add_argument("--exit", action="store_true", help="quitter une fois prêt (au lieu d'attendre Ctrl-C)")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    silent = wait_all(services(env), seconds=args.timeout, warn_after=args.warn_after,
                      say=lambda text: print(text, flush=True))
    if silent:
        print(f"Ces services ne répondent pas après {args.timeout:.0f} s : {', '.join(silent)} — voir leurs lignes "
              "ci-dessus.", flush=True)
    else:
        print(summary(env), flush=True)
    if args.exit:
        return 1 if silent else 0
    while True:  # honcho ends every process when one exits: stay until it stops us
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
