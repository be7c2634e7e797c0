"""Intake: the spreadsheets pulled from where partners send them into the inbox.

Channels (``config/senders.yml``: ``channels``), each with its credentials in an Airflow
Connection: the department's collection mailbox over IMAP, read only (``imap.py``), and remote
folders through fsspec (``folders.py``). Who sent a file decides where it lands
(``senders.py``): ``inbox/<provider>/<unit>/<original file name>``, atomically (``land.py``).
What arrived, landed, was a duplicate or was refused, and why, is one row each in the fetch
ledger (``ledger.py``: SQLite under ``OUTREACH_HOME/intake``, never the build file, so intake
runs while the night runs). ``pull.py`` runs every channel once: ``outreach pull`` and the
``outreach_intake`` DAG.
"""
