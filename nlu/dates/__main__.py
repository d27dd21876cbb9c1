"""`python -m nlu.dates --now 2026-11-25T10:00`: one expression per line on stdin, one JSON object per line out."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from nlu.dates import PARIS, resolve


def _now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        message = f"date et heure ISO 8601 attendues (ex. 2026-11-25T10:00), pas {text!r}"
        raise argparse.ArgumentTypeError(message) from exc
    return value.replace(tzinfo=PARIS) if value.tzinfo is None else value.astimezone(PARIS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlu.dates", description=__doc__)
    parser.add_argument("--now", type=_now, help="reference time, Europe/Paris if no offset (default: now)")
    parser.add_argument("--horizon-days", type=int, default=90, help="length of open-ended windows (default 90)")
    args = parser.parse_args(argv)
    now = args.now or datetime.now(PARIS)
    for line in sys.stdin:
        text = line.rstrip("\n")
        if text.strip():
            result = resolve(text, now, horizon_days=args.horizon_days)
            sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
