-- A status page component may follow a vendor (one of its components by name, or '' for the
-- whole vendor): a third-party component. Deleting the vendor leaves the component, unlinked.
ALTER TABLE status_page_components ADD COLUMN vendor_id UUID REFERENCES vendors (id) ON DELETE SET NULL;
ALTER TABLE status_page_components ADD COLUMN vendor_component TEXT;
