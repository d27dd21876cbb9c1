"""The pre-flight configuration check (python -m guichet.config check) and .env.example."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from guichet.config import VARIABLES, check, example, main, read_env_file
from guichet.ready import Service, answers, services, summary, wait_all

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "x" * 32


def offline(host: str, port: int) -> str | None:
    return None


def quiet(env: dict[str, str], **kwargs: object) -> list[str]:
    """check() with no real network probe unless asked."""
    options: dict[str, object] = {"bind": False, "reach": offline, "login": lambda url: None}
    options.update(kwargs)
    return check(env, **options)  # type: ignore[arg-type]


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_the_defaults_are_valid() -> None:
    assert quiet({}) == []


@pytest.mark.parametrize("value", ["0", "65536", "80a", "-1"])
def test_a_port_out_of_range_is_refused(value: str) -> None:
    problems = quiet({"GUICHET_BOOKING_PORT": value})
    assert problems == [f"GUICHET_BOOKING_PORT doit être un port entre 1 et 65535, pas « {value} »."]


def test_a_taken_port_is_refused(listening: int) -> None:
    problems = check({"GUICHET_DESK_PORT": str(listening)}, bind=True, reach=offline, login=lambda url: None,
                     probe_ports=lambda host, port, udp: "occupé" if port == listening else None)
    assert len(problems) == 1 and "GUICHET_DESK_PORT" in problems[0] and "déjà pris" in problems[0]
    # and with the real probe: the port the fixture listens on cannot be bound
    others = {n: "" for n, v in VARIABLES.items() if v.kind in ("port", "udp-port") and n != "GUICHET_DESK_PORT"}
    real = check({"GUICHET_DESK_PORT": str(listening), **others}, bind=True, reach=offline, login=lambda url: None)
    assert [p for p in real if "GUICHET_DESK_PORT" in p], real


def test_two_services_on_one_port_are_refused() -> None:
    problems = quiet({"GUICHET_DESK_PORT": "8081"})
    assert problems == ["GUICHET_DESK_PORT et GUICHET_BOOKING_PORT utilisent le même port 8081."]


def test_an_unreachable_database_is_refused() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    problems = check({"GUICHET_BOOKING_DATABASE_URL": f"postgresql://guichet:secret@127.0.0.1:{closed}/guichet"},
                     bind=False)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"GUICHET_BOOKING_DATABASE_URL : la base 127.0.0.1:{closed} est injoignable")
    assert "secret" not in problems[0]


def test_a_refused_login_is_reported_without_the_password() -> None:
    problems = quiet({"GUICHET_RASA_TRACKER_URL": "postgresql://rasa:hunter2@db:5432/rasa",
                      "GUICHET_REDIS_HOST": "redis"}, login=lambda url: "password authentication failed")
    assert problems == ["GUICHET_RASA_TRACKER_URL : connexion refusée à postgresql://rasa:***@db:5432/rasa "
                        "(password authentication failed)."]


def test_a_malformed_database_url_is_refused() -> None:
    problems = quiet({"GUICHET_DESK_DATABASE_URL": "mysql://x@y/z"})
    assert len(problems) == 1 and problems[0].startswith("GUICHET_DESK_DATABASE_URL doit être sqlite:///")


def test_a_sqlite_file_in_a_folder_to_create_is_fine(tmp_path: Path) -> None:
    assert quiet({"GUICHET_BOOKING_DATABASE_URL": f"sqlite:///{tmp_path}/new/sub/booking.db"}) == []


def test_scale_out_needs_both_stores_and_a_reachable_redis() -> None:
    assert quiet({"GUICHET_REDIS_HOST": "redis"})[0].startswith("Mode réparti : définissez à la fois")
    problems = quiet({"GUICHET_RASA_TRACKER_URL": "postgresql://rasa@db/rasa", "GUICHET_REDIS_HOST": "redis",
                      "GUICHET_RASA_LOCK_PREFIX": "guichet-prod"},
                     reach=lambda host, port: "Connection refused" if host == "redis" else None)
    assert problems == ["GUICHET_REDIS_HOST : Redis redis:6379 est injoignable (Connection refused).",
                        "GUICHET_RASA_LOCK_PREFIX : lettres et chiffres seulement, pas « guichet-prod »."]


def test_production_requires_the_secrets() -> None:
    problems = quiet({"GUICHET_ENV": "production", "GUICHET_STAFF_TOKEN": "short"})
    assert any("GUICHET_STAFF_TOKEN doit faire au moins 24" in p for p in problems)
    assert any(p.startswith("En production, GUICHET_DESK_TOKEN est obligatoire") for p in problems)
    assert any(p.startswith("En production, GUICHET_RASA_TOKEN est obligatoire") for p in problems)
    assert any("GUICHET_DESK_SECURE_COOKIES" in p for p in problems)
    ready = {"GUICHET_ENV": "production", "GUICHET_STAFF_TOKEN": TOKEN, "GUICHET_DESK_TOKEN": TOKEN,
             "GUICHET_RASA_TOKEN": TOKEN, "GUICHET_DESK_SECURE_COOKIES": "1"}
    assert quiet(ready) == []
    assert quiet({**ready, "GUICHET_ENV": "developpement"}) == [
        "GUICHET_ENV vaut « development » ou « production », pas « developpement »."]


def test_other_values_are_checked() -> None:
    problems = quiet({"GUICHET_ANTS_TIMEOUT_S": "cinq", "GUICHET_DIALOGUE_URL": "127.0.0.1:5005",
                      "GUICHET_LOG_LEVEL": "bavard", "GUICHET_ANTS_URL": "https://ants.example/api"})
    assert problems == [
        "GUICHET_LOG_LEVEL vaut DEBUG, INFO, WARNING ou ERROR, pas « BAVARD ».",
        "GUICHET_DIALOGUE_URL doit être une adresse http(s)://hôte[:port], pas « 127.0.0.1:5005 ».",
        "GUICHET_ANTS_TIMEOUT_S doit être un nombre positif, pas « cinq ».",
        "GUICHET_ANTS_URL est défini mais GUICHET_ANTS_TOKEN est vide.",
    ]


def test_the_questions_retriever_is_one_the_action_server_knows() -> None:
    from actions.deps import ActionSettings

    assert quiet({"GUICHET_FAQ_RETRIEVER": "tfidf"}) == []
    assert any("GUICHET_FAQ_RETRIEVER" in p for p in quiet({"GUICHET_FAQ_RETRIEVER": "bert"}))
    with pytest.raises(ValueError, match="GUICHET_FAQ_RETRIEVER"):
        ActionSettings.from_env({"GUICHET_FAQ_RETRIEVER": "bert"})  # the service refuses the same value


def test_the_env_file_overrides_the_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# commentaire\nGUICHET_BOOKING_PORT='99999'\n\nexport GUICHET_LOG_LEVEL=INFO\n")
    assert read_env_file(env_file) == {"GUICHET_BOOKING_PORT": "99999", "GUICHET_LOG_LEVEL": "INFO"}
    code = main(["check", "--env-file", str(env_file), "--no-bind"], {"GUICHET_BOOKING_PORT": "8081"})
    assert code == 2
    assert "GUICHET_BOOKING_PORT doit être un port entre 1 et 65535, pas « 99999 »." in capsys.readouterr().err
    assert main(["check", "--env-file", str(tmp_path / "absent"), "--no-bind"], {}) == 0


def test_the_command_line_refuses_in_french() -> None:
    done = subprocess.run([sys.executable, "-m", "guichet.config", "check", "--no-bind", "--env-file", "/nonexistent"],
                          env={"GUICHET_ENV": "production", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("Configuration invalide — le guichet ne démarre pas :")
    assert "GUICHET_STAFF_TOKEN est obligatoire" in done.stderr


def test_env_example_documents_every_variable_the_code_reads() -> None:
    assert (ROOT / ".env.example").read_text(encoding="utf-8") == example(), \
        "regenerate: .venv/bin/python -m guichet.config example > .env.example"
    used: set[str] = set()
    for folder in ("booking", "actions", "voice", "web", "guichet", "knowledge", "nlu", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            used.update(re.findall(r"GUICHET_[A-Z0-9_]*[A-Z0-9]", path.read_text(encoding="utf-8")))
    for path in (ROOT / "deploy").rglob("*"):
        if path.is_file() and path.suffix not in (".conf", ".xml"):
            used.update(re.findall(r"GUICHET_[A-Z0-9_]*[A-Z0-9]", path.read_text(encoding="utf-8")))
    missing = sorted(used - set(VARIABLES))
    assert not missing, f"not documented in guichet/config.py: {missing}"


# --- guichet.ready: the `ready` line of deploy/Procfile ------------------------------------------------------------

def test_ready_waits_for_every_service_at_its_configured_port(tmp_path: Path) -> None:
    env = {"GUICHET_DESK_PORT": "9185", "GUICHET_VOSK_MODEL": str(tmp_path / "absent"),
           "GUICHET_WHISPER_MODEL": str(tmp_path / "absent")}
    probes = {s.name: s.probe for s in services(env)}
    assert probes == {"booking": "http://127.0.0.1:8081/health", "actions": "http://127.0.0.1:5055/health",
                      "dialogue": "http://127.0.0.1:5005/", "desk": "http://127.0.0.1:9185/health",
                      "ants-standin": "tcp://127.0.0.1:8099"}  # no voice without a model
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "am").mkdir()
    with_model = {s.name: s.probe for s in services({**env, "GUICHET_VOSK_MODEL": str(tmp_path / "model")})}
    assert with_model["voice"] == "http://127.0.0.1:8090/health"


def test_ready_names_the_late_services_then_gives_up_on_the_silent_ones() -> None:
    now = [0.0]
    answered_after = {"booking": 0.0, "dialogue": 40.0, "desk": 1e9}
    said: list[str] = []
    wanted = [Service(name, f"http://x/{name}") for name in answered_after]
    silent = wait_all(wanted, seconds=100, warn_after=30,
                      check=lambda probe: now[0] >= answered_after[probe.rsplit("/", 1)[1]],
                      sleep=lambda s: now.__setitem__(0, now[0] + 10), clock=lambda: now[0], say=said.append)
    assert silent == ["desk"]
    assert said == ["En attente de : dialogue, desk (le dialogue met ~30 à 90 s à charger son modèle)…"]


def test_ready_answers_probe_real_sockets(listening: int) -> None:
    assert answers(f"tcp://127.0.0.1:{listening}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert not answers(f"tcp://127.0.0.1:{closed}") and not answers(f"http://127.0.0.1:{closed}/health")


def test_ready_summary_lists_the_addresses_people_need(tmp_path: Path) -> None:
    text = summary({"GUICHET_DESK_PORT": "9185", "GUICHET_VOSK_MODEL": str(tmp_path / "absent"),
                    "GUICHET_WHISPER_MODEL": str(tmp_path / "absent")})
    for expected in ("http://127.0.0.1:9185/", "http://127.0.0.1:9185/console", "http://127.0.0.1:5005",
                     "http://127.0.0.1:8081/api/v1", "http://127.0.0.1:5055/metrics", "make setup",
                     "Ctrl-C arrête tout."):
        assert expected in text, expected
