"""docs/security.md stays true: its roles table is the one ROLE_ACTIONS gives."""

from __future__ import annotations

from pathlib import Path

from accounts.roles import ROLE_ACTIONS, Action, Role

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
COLUMNS = (Role.VIEWER, Role.ENGINEER, Role.STEWARD, Role.OWNER)


def roles_table() -> str:
    """The Markdown table of actions by role, generated from ROLE_ACTIONS."""
    lines = [
        "| action | " + " | ".join(r.value for r in COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for action in Action:
        cells = ("yes" if action in ROLE_ACTIONS[role] else "—" for role in COLUMNS)
        lines.append(f"| `{action.value}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_roles_table_in_the_security_doc_matches_role_actions() -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- roles-table:start -->\n") + len("<!-- roles-table:start -->\n")
    end = text.index("\n<!-- roles-table:end -->")
    assert text[start:end] == roles_table(), "regenerate the table with roles_table()"


def test_security_doc_names_the_commands_it_documents() -> None:
    text = DOC.read_text(encoding="utf-8")
    for command in ("rotate_master_key", "verify_audit_log", "SOBERANA_REQUIRE_2FA"):
        assert command in text
