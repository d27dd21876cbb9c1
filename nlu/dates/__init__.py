"""French date and time resolution, relative to an injected `now` (Europe/Paris). No Rasa import here.

    >>> from datetime import datetime
    >>> from nlu.dates import resolve, PARIS
    >>> r = resolve("mardi prochain en fin de matinée", datetime(2026, 11, 25, 10, tzinfo=PARIS))
    >>> [w.start.isoformat() for w in r.windows]
    ['2026-12-01T11:00:00+01:00']
"""

from nlu.dates.model import DailyRange, Grain, Resolution, Window
from nlu.dates.resolve import PARIS, resolve

__all__ = ["PARIS", "DailyRange", "Grain", "Resolution", "Window", "resolve"]
