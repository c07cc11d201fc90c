-- Who attached a file: the sender of the mail it came with, or the person who uploaded it.
ALTER TABLE ticket_attachments ADD COLUMN author TEXT NOT NULL DEFAULT '';
