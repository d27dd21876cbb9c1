"""A citizen's rights over everything the guichet keeps about them, by phone number, and the retention purge.

``python -m guichet.gdpr export --phone NUMBER [--out FILE]`` prints one JSON document with what every store holds
about that number; ``erase --phone NUMBER --yes`` erases it everywhere; ``purge`` applies the retention period
(``GUICHET_RETENTION_DAYS``, 180 days) to the desk, the conversations and the outbox. Settings are read as the desk
reads them (environment, then ``.env``): the booking backend's URL and staff token, the desk database, Rasa's
tracker store, the data folder holding the outbox.

The stores, and what erasure does in each:

- **booking backend**, over HTTP (its staff endpoint): future appointments cancelled, then name, phone, e-mail and
  pré-demande numbers removed from all of them (booking/personal.py);
- **desk** (cases and their messages): the messages are deleted — the transcript is the personal data, and an
  anonymized sentence is still what the citizen said — while the case row is kept, its phone, collected data and
  note cleared (an open case is closed « sans suite »), so the statistics keep their counts;
- **Rasa's tracker store**: the citizen's conversations are deleted, all their events;
- **outbox** of hand-off tickets (``data/tickets.sqlite3``): their tickets are deleted.

A citizen's conversations are those with a ``phone`` slot set to the number, a message from that caller
(``metadata.caller``, phone calls) or a message saying it (digits compared after normalization: « 06 12 34 56 78 »,
« +33 6 12 34 56 78 », « zéro six douze… » are one number), plus the conversations of their desk cases and outbox
tickets; their cases and tickets are those naming the number or belonging to one of these conversations.

Every store is processed even when another fails; a store that cannot be reached is named, in French, and the
command exits with 1. The phone number never reaches a log or this command's own messages unmasked.
"""
