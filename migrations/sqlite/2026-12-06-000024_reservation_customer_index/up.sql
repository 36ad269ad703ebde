-- A customer's reservations by expiry (issue 19): the no-show rule reads the ones that expired
-- recently, and the user panel lists a customer's reservations. Keep in step with the other backend.
CREATE INDEX reservations_customer ON reservations (customer_id, expires_at)
    WHERE customer_id IS NOT NULL;
