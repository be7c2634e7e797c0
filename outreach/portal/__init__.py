"""报送门户 (issue 16): the web portal where each unit uploads and sees at once what is wrong.

Built so far: the accounts (``accounts.py``: one per unit plus the department's admins, argon2
hashes, a first password that must be changed, lockout, an audit log), ``outreach accounts``, and
an upload's check and submission (``uploads.py``: intake's guards, the night's own reading in the
sandbox, landing for the account's unit, the fetch ledger), and reading an upload's body as it
streams with its limits (``streaming.py``), and the web app (``app.py``: sign-in, the first
password change, upload, check, submit, 我的报送; ``make portal``). Still to come: the lists to
download, the diff of a resent file, the admin pages, the dashboard behind the sign-in.
"""
