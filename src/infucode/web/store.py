"""Saved cases: an encounter, its result, and the coder's decision, with an append-only history.

SQLite by default (SQLAlchemy); any SQLAlchemy URL works (e.g. postgresql+psycopg://...). A change to a
case adds a revision; nothing is updated in place or deleted, so the audit trail is complete.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import ForeignKey, Integer, String, Text, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    pass


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    encounter_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(200))


class Revision(Base):
    __tablename__ = "case_revisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(String(40))
    author: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    encounter_json: Mapped[str] = mapped_column(Text)
    result_json: Mapped[str] = mapped_column(Text)
    decision_json: Mapped[str] = mapped_column(Text)  # {"accepted": [line indexes], "overrides": [lines]}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class CaseStore:
    def __init__(self, url: str = "sqlite:///infucode-cases.db"):
        kwargs = {"connect_args": {"check_same_thread": False}} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, **kwargs)
        Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def save(self, encounter: dict, result: dict, decision: dict, author: str, reason: str = "") -> dict:
        with self._session.begin() as s:
            case = Case(encounter_id=str(encounter.get("id")), created_at=_now(), created_by=author)
            s.add(case)
            s.flush()
            self._add_revision(s, case.id, 1, encounter, result, decision, author, reason)
            return self.get(case.id, s)

    def revise(self, case_id: int, encounter: dict, result: dict, decision: dict, author: str, reason: str) -> dict | None:
        with self._session.begin() as s:
            if s.get(Case, case_id) is None:
                return None
            last = s.scalar(select(func.max(Revision.number)).where(Revision.case_id == case_id)) or 0
            self._add_revision(s, case_id, last + 1, encounter, result, decision, author, reason)
            return self.get(case_id, s)

    @staticmethod
    def _add_revision(s: Session, case_id, number, encounter, result, decision, author, reason) -> None:
        s.add(Revision(case_id=case_id, number=number, created_at=_now(), author=author, reason=reason,
                       encounter_json=json.dumps(encounter), result_json=json.dumps(result),
                       decision_json=json.dumps(decision)))

    def list(self) -> list[dict]:
        with self._session() as s:
            rows = s.execute(select(Case, func.count(Revision.id), func.max(Revision.created_at))
                             .join(Revision, Revision.case_id == Case.id).group_by(Case.id).order_by(Case.id)).all()
            return [{"id": c.id, "encounter": c.encounter_id, "created_at": c.created_at, "created_by": c.created_by,
                     "revisions": n, "updated_at": last} for c, n, last in rows]

    def get(self, case_id: int, s: Session | None = None) -> dict | None:
        own = s is None
        s = s or self._session()
        try:
            case = s.get(Case, case_id)
            if case is None:
                return None
            revs = s.scalars(select(Revision).where(Revision.case_id == case_id).order_by(Revision.number)).all()
            history = [{"number": r.number, "created_at": r.created_at, "author": r.author, "reason": r.reason,
                        "encounter": json.loads(r.encounter_json), "result": json.loads(r.result_json),
                        "decision": json.loads(r.decision_json)} for r in revs]
            return {"id": case.id, "encounter": case.encounter_id, "created_at": case.created_at,
                    "created_by": case.created_by, "current": history[-1], "history": history}
        finally:
            if own:
                s.close()
