"""报送门户 (issue 16): the web portal where each unit uploads and sees at once what is wrong,
and the department signs in to everything.

``accounts.py``: one account per unit plus the department's admins (argon2 hashes, a first
password that must be changed, lockout, sessions, an audit log; ``outreach accounts``).
``streaming.py``: an upload's body read as it streams, cut off at its limits. ``uploads.py``: an
upload checked by the night's own reading in the sandbox, with its 退回清单, then submitted for
the account's unit through intake's landing, or dropped. ``submissions.py``: 我的报送, what
the night made of each file, and ``resend.py``: what a resent file changed, by natural key.
``lists.py``: the unit's lists of the last night, its coverage, its templates. ``app.py``: the
pages (FastAPI, server-rendered Chinese), ``python -m outreach.portal`` (``make portal``). The
dashboard checks the same session (``outreach.dashboard.ui.viewer``).
"""
