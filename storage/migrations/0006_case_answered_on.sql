-- The day the person received the answer to a tracked complaint: the court's one month (APPK art. 136) and a
-- further complaint's 3 months (art. 92) count from it. NULL for open and closed cases, and for answers
-- recorded before this column (shown from the day the status changed).
ALTER TABLE cases ADD COLUMN answered_on TEXT
