-- A private status page: visitors need its password (argon2id hash); NULL is a public page.
ALTER TABLE status_pages ADD COLUMN password_hash TEXT;
