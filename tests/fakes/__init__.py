"""Faithful local fakes of the alert platforms: real HTTP (and SMTP) servers on 127.0.0.1.

Each fake follows the fake-server checklist of the protocol reference
(/work/shared/brief/im-protocols.md sections 1.5, 3.5, 4.6), records what it received, and
has an injectable clock so token expiry, timestamp windows and rate windows can be tested
without sleeping.
"""
