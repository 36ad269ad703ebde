-- A token's OCPP 2.0.1 IdTokenEnumType (Central, eMAID, ISO14443, ...): a typed token matches an idToken
-- of that type only; NULL (every 1.6 token) matches any type.
ALTER TABLE id_tags ADD COLUMN id_token_type TEXT;
