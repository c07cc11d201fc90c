-- A status page's logo (an image URL) and footer links (JSON list of {label, url}).
ALTER TABLE status_pages ADD COLUMN logo_url TEXT;
ALTER TABLE status_pages ADD COLUMN footer_links TEXT;
