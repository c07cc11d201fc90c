-- A status page may also be served at a host name of its own (chosen by the Host header).
ALTER TABLE status_pages ADD COLUMN custom_domain TEXT;
CREATE UNIQUE INDEX status_pages_custom_domain ON status_pages (custom_domain) WHERE custom_domain IS NOT NULL;
