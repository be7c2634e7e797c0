"""报送门户 (issue 16): the web portal where each unit uploads and sees at once what is wrong.

Built so far: the accounts (``accounts.py``: one per unit plus the department's admins, argon2
hashes, a first password that must be changed, lockout, an audit log) and ``outreach accounts``.
The web app comes next.
"""
