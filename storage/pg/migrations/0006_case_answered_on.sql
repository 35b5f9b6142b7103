-- The day the person received the answer to a tracked complaint (APPK art. 136 and 92 count from it).
ALTER TABLE cases ADD COLUMN answered_on date;
