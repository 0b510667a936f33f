"""Writing a review's life to the database, one concern a module: its creation (``creation``), its stage transitions
and history (``transitions``), its timetable (``timetable``), the messages it sends (``outbox``), and finding a review
or a partnership (``lookup``). The hash chains its history is written to are models/chain.py's.

Every function here works inside the caller's transaction (``models.db.transaction()``), so a decision, the stage
move it causes, the audit event, the recomputed deadlines and any outbox message commit together or not at all.
"""
