-- Suble's invoice details (GET|PUT /billing/details) beside the LNVPS billing columns users
-- already have (billing_name, billing_address_1, billing_postcode, billing_city, billing_tax_id;
-- users.country drives VAT): whether the buyer is a company, the address invoices go to, a phone
-- number and the EAN/GLN number Danish public-sector buyers are invoiced by.
ALTER TABLE users
    ADD COLUMN billing_is_company boolean,
    ADD COLUMN billing_email      text CHECK (char_length(billing_email) <= 254),
    ADD COLUMN billing_phone      text CHECK (char_length(billing_phone) <= 32),
    ADD COLUMN billing_ean        text CHECK (char_length(billing_ean) <= 32);
