-- Asset lifecycle on CIs: dates as `YYYY-MM-DD` text (they sort as they read), cost in cents.
ALTER TABLE cis ADD COLUMN purchase_date TEXT;
ALTER TABLE cis ADD COLUMN cost_cents BIGINT;
ALTER TABLE cis ADD COLUMN warranty_end TEXT;
ALTER TABLE cis ADD COLUMN end_of_support TEXT;
ALTER TABLE cis ADD COLUMN end_of_life TEXT;
-- The lifecycle report looks for the next date of each kind.
CREATE INDEX cis_warranty_end ON cis (warranty_end) WHERE warranty_end IS NOT NULL;
CREATE INDEX cis_end_of_support ON cis (end_of_support) WHERE end_of_support IS NOT NULL;
CREATE INDEX cis_end_of_life ON cis (end_of_life) WHERE end_of_life IS NOT NULL;
