"""Instance-wide settings that operators change at run time (not deployment configuration)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .audit import record
from .base import db

DEFAULTS: dict[str, Any] = {
    # Anyone may create an account so that requesters can self-nominate (SPEC §5).
    "signup_open": True,
}


class Setting(db.Model):
    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(sa.JSON)

    def __repr__(self) -> str:
        return f"<Setting {self.key}={self.value!r}>"


def get_setting(key: str) -> Any:
    """Return the stored value of an instance setting, or its default."""
    row = db.session.get(Setting, key)
    return DEFAULTS[key] if row is None else row.value


def set_setting(key: str, value: Any, actor=None) -> None:
    """Store an instance setting and audit the change."""
    if key not in DEFAULTS:
        raise KeyError(key)
    before = get_setting(key)
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=value))
    else:
        row.value = value
    record(actor, "setting.changed", target=("setting", None, key), before={key: before}, after={key: value})
