-- Companies (LNVPS "Company Management"): the legal entities VMs are sold by. A region names
-- its company (regions.company_id); a company with regions cannot be deleted.
--   invoices.seller_*: the company an invoice was issued in the name of, copied at issue time
--   (the VM's host region's company), like the buyer: a later change of the company's address
--   never rewrites an issued invoice. NULL seller_name: the coordinator's configured seller.
CREATE TABLE companies (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    name          text        NOT NULL CHECK (name <> ''),
    address_1     text,
    address_2     text,
    city          text,
    state         text,
    country_code  text,
    tax_id        text,
    base_currency text        NOT NULL
                  CHECK (base_currency IN ('EUR', 'USD', 'GBP', 'CAD', 'CHF', 'AUD', 'JPY', 'BTC')),
    postcode      text,
    phone         text,
    email         text
);

-- regions.company_id had no table to point at: whatever it held names no company.
UPDATE regions SET company_id = NULL WHERE company_id IS NOT NULL;
ALTER TABLE regions ADD CONSTRAINT regions_company_id_fkey
    FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE RESTRICT;
CREATE INDEX regions_by_company ON regions (company_id) WHERE company_id IS NOT NULL;

-- No foreign key: an invoice keeps naming a company that was deleted later.
ALTER TABLE invoices
    ADD COLUMN seller_company_id bigint,
    ADD COLUMN seller_name       text CHECK (seller_name <> ''),
    ADD COLUMN seller_address    text,  -- its lines, joined by newlines
    ADD COLUMN seller_tax_id     text,
    ADD COLUMN seller_email      text,
    ADD COLUMN seller_phone      text,
    ADD CHECK ((seller_company_id IS NULL) = (seller_name IS NULL));
