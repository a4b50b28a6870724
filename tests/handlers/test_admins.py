"""Who may change the knowledge base from Slack: LICENSEBOT_ADMINS, per workspace."""

from __future__ import annotations

from handlers.deps import Admins


def test_a_qualified_admin_counts_only_in_that_workspace() -> None:
    admins = Admins(frozenset({"T01ACME:U01ADMIN"}))
    assert admins.allows("T01ACME", "U01ADMIN")
    assert not admins.allows("T02GLOBEX", "U01ADMIN")
    assert not admins.allows(None, "U01ADMIN")
    assert not admins.allows("T01ACME", "U02OTHER")


def test_a_bare_id_counts_in_the_one_workspace() -> None:
    admins = Admins(frozenset({"U01ADMIN"}))
    assert admins.allows("T01ACME", "U01ADMIN")
    assert admins.allows(None, "U01ADMIN")


def test_nobody_is_admin_by_default_and_an_empty_user_never_is() -> None:
    assert not Admins().allows("T01ACME", "U01ADMIN")
    assert not Admins(frozenset({"T01ACME:"})).allows("T01ACME", "")
